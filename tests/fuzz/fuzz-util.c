#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz-util.h"

const char *
ps_fuzz_util_file(const guint8 *data, gsize size)
{
    static int fd = -1;
    static char path[64];
    gsize done = 0;

    if (fd < 0) {
        fd = memfd_create("portsurge-fuzz", MFD_CLOEXEC);
        g_assert(fd >= 0); /* Linux 3.17 and /proc: what the collector runs on anyway */
        g_snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    g_assert(ftruncate(fd, 0) == 0);
    while (done < size) {
        ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
        g_assert(n > 0);
        done += (gsize)n;
    }
    return path;
}

gchar *
ps_fuzz_util_string(const guint8 *data, gsize size)
{
    gchar *text = g_malloc(size + 1);

    if (size > 0)
        memcpy(text, data, size);
    text[size] = '\0';
    return text;
}

gint
ps_fuzz_util_pick(const guint8 *data, gsize size, const char *letters)
{
    const char *at;

    if (size == 0)
        return -1;
    at = data[0] != '\0' ? strchr(letters, data[0]) : NULL;
    return at != NULL ? (gint)(at - letters) : (gint)(data[0] % strlen(letters));
}

static GLogWriterOutput
quiet_writer(GLogLevelFlags log_level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
    if (!(log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)))
        return G_LOG_WRITER_HANDLED;
    g_log_writer_default(log_level, fields, n_fields, user_data);
    abort();
}

void
ps_fuzz_util_quiet_logs(void)
{
    static gboolean installed;

    if (!installed) {
        g_log_set_writer_func(quiet_writer, NULL, NULL);
        installed = TRUE;
    }
}
