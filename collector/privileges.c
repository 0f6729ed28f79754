#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "privileges.h"

G_DEFINE_QUARK(ps_privileges_error_quark, ps_privileges_error)

static gboolean
fail(GError **error, const char *what, const char *user)
{
    g_set_error(error, PS_PRIVILEGES_ERROR, PS_PRIVILEGES_ERROR_FAILED, "becoming user %s: %s: %s",
                user, what, g_strerror(errno));
    return FALSE;
}

/* Groups first, then gid, then uid: after setuid() the others are no longer allowed. */
static gboolean
become(const struct passwd *account, GError **error)
{
    if (initgroups(account->pw_name, account->pw_gid) != 0)
        return fail(error, "initgroups", account->pw_name);
    if (setgid(account->pw_gid) != 0)
        return fail(error, "setgid", account->pw_name);
    if (setuid(account->pw_uid) != 0)
        return fail(error, "setuid", account->pw_name);
    /* glibc applies setuid to every thread; check that root cannot come back */
    if (account->pw_uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
        errno = EPERM;
        return fail(error, "root could be regained", account->pw_name);
    }
    return TRUE;
}

gboolean
ps_privileges_drop(const char *user, GError **error)
{
    const char *name = user;
    const struct passwd *found;
    struct passwd account; /* a copy: NSS calls in initgroups() may reuse getpwnam's */

    if (geteuid() != 0) {
        if (user != NULL)
            g_message("not started as root: user %s ignored", user);
        return TRUE;
    }
    if (name == NULL && getpwnam(PS_PRIVILEGES_DEFAULT_USER) != NULL)
        name = PS_PRIVILEGES_DEFAULT_USER;
    if (name == NULL || g_strcmp0(name, "root") == 0) {
        g_warning("running as root: create a user '%s' or set [collector] user (--user)",
                  PS_PRIVILEGES_DEFAULT_USER);
        return TRUE;
    }
    found = getpwnam(name);
    if (found == NULL) {
        g_set_error(error, PS_PRIVILEGES_ERROR, PS_PRIVILEGES_ERROR_NO_USER,
                    "user %s: no such user", name);
        return FALSE;
    }
    account = *found;
    if (!become(&account, error))
        return FALSE;
    g_message("running as user %s (uid %u, gid %u)", name, (guint)account.pw_uid,
              (guint)account.pw_gid);
    return TRUE;
}
