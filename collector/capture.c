#include "config.h"

#include <glib/gstdio.h>
#include <pcap/pcap.h>
#include <sys/stat.h>

#include "capture.h"
#include "cursor.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define IPPROTO_UDP_NUMBER 17
#define LINKTYPE_LINUX_SLL2 276

typedef struct {
    PsCaptureFn fn;
    gpointer user_data;
    PsCaptureStats *stats;
} Reader;

static gboolean
is_pcap_magic(const guint8 *bytes, gsize len)
{
    static const guint32 magics[] = {0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a};
    guint32 magic;

    if (len < 4)
        return FALSE;
    magic = (guint32)bytes[0] << 24 | (guint32)bytes[1] << 16 | (guint32)bytes[2] << 8 | bytes[3];
    for (guint i = 0; i < G_N_ELEMENTS(magics); i++) {
        if (magic == magics[i])
            return TRUE;
    }
    return FALSE;
}

/* Link layer -> ethertype and offset of the network header; FALSE for what we cannot read. */
static gboolean
strip_link_layer(int linktype, PsCursor *cursor, guint16 *ethertype)
{
    switch (linktype) {
    case DLT_EN10MB:
        ps_cursor_skip(cursor, 12);
        *ethertype = ps_cursor_u16(cursor);
        while (*ethertype == ETHERTYPE_VLAN || *ethertype == ETHERTYPE_QINQ) {
            ps_cursor_skip(cursor, 2);
            *ethertype = ps_cursor_u16(cursor);
        }
        break;
    case DLT_LINUX_SLL:
        ps_cursor_skip(cursor, 14);
        *ethertype = ps_cursor_u16(cursor);
        break;
    case LINKTYPE_LINUX_SLL2:
        *ethertype = ps_cursor_u16(cursor);
        ps_cursor_skip(cursor, 18);
        break;
    case DLT_NULL:
    case DLT_LOOP: {
        const guint8 *family = ps_cursor_bytes(cursor, 4);
        /* host byte order for DLT_NULL: AF_INET is 2 either way round; any larger is IPv6 */
        *ethertype = family != NULL && (family[0] == 2 || family[3] == 2) ? ETHERTYPE_IPV4
                                                                          : ETHERTYPE_IPV6;
        break;
    }
    case DLT_RAW:
    case 101: /* LINKTYPE_RAW */
    case 228: /* LINKTYPE_IPV4 */
    case 229: /* LINKTYPE_IPV6 */ {
        const guint8 *first = ps_cursor_bytes(cursor, 1);
        *ethertype = first != NULL && first[0] >> 4 == 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
        cursor->pos--;
        break;
    }
    default:
        return FALSE;
    }
    return !cursor->overrun;
}

/* IPv4 header -> source address; FALSE unless it is an unfragmented (or first-fragment) UDP. */
static gboolean
read_ipv4(PsCursor *cursor, PsAddress *source, PsCaptureStats *stats)
{
    gsize start = cursor->pos;
    guint8 version_ihl = ps_cursor_u8(cursor);
    guint16 fragment;
    guint8 protocol;
    const guint8 *src;

    ps_cursor_skip(cursor, 5);
    fragment = ps_cursor_u16(cursor);
    ps_cursor_skip(cursor, 1);
    protocol = ps_cursor_u8(cursor);
    ps_cursor_skip(cursor, 2);
    src = ps_cursor_bytes(cursor, 4);
    if (src == NULL || protocol != IPPROTO_UDP_NUMBER) {
        stats->skipped_not_udp++;
        return FALSE;
    }
    if (fragment & 0x3fff) { /* more fragments or a non-zero offset: not reassembled */
        stats->skipped_fragments++;
        return FALSE;
    }
    ps_address_set_ipv4(source, src);
    cursor->pos = start;
    ps_cursor_skip(cursor, (version_ihl & 0x0f) * 4u);
    return !cursor->overrun;
}

static gboolean
read_ipv6(PsCursor *cursor, PsAddress *source, PsCaptureStats *stats)
{
    guint8 next_header;
    const guint8 *src;

    ps_cursor_skip(cursor, 6);
    next_header = ps_cursor_u8(cursor);
    ps_cursor_skip(cursor, 1);
    src = ps_cursor_bytes(cursor, 16);
    ps_cursor_skip(cursor, 16);
    /* hop-by-hop, routing, destination options: skip; fragments are not reassembled */
    while (!cursor->overrun && (next_header == 0 || next_header == 43 || next_header == 60)) {
        next_header = ps_cursor_u8(cursor);
        ps_cursor_skip(cursor, ps_cursor_u8(cursor) * 8u + 6);
    }
    if (src == NULL || cursor->overrun || next_header != IPPROTO_UDP_NUMBER) {
        if (next_header == 44)
            stats->skipped_fragments++;
        else
            stats->skipped_not_udp++;
        return FALSE;
    }
    ps_address_set_ipv6(source, src);
    return TRUE;
}

static void
read_frame(Reader *reader, int linktype, const struct pcap_pkthdr *header, const guint8 *bytes)
{
    PsCursor cursor;
    guint16 ethertype = 0;
    PsAddress source = {0};
    gboolean is_udp = FALSE;
    guint16 udp_len;
    gint64 time_ms = (gint64)header->ts.tv_sec * 1000 + header->ts.tv_usec / 1000;

    reader->stats->frames++;
    ps_cursor_init(&cursor, bytes, header->caplen);
    if (!strip_link_layer(linktype, &cursor, &ethertype)) {
        reader->stats->skipped_not_udp++;
        return;
    }
    if (ethertype == ETHERTYPE_IPV4)
        is_udp = read_ipv4(&cursor, &source, reader->stats);
    else if (ethertype == ETHERTYPE_IPV6)
        is_udp = read_ipv6(&cursor, &source, reader->stats);
    else
        reader->stats->skipped_not_udp++;
    if (!is_udp)
        return;
    ps_cursor_skip(&cursor, 4);
    udp_len = ps_cursor_u16(&cursor);
    ps_cursor_skip(&cursor, 2);
    if (cursor.overrun || udp_len < 8 || udp_len - 8u > ps_cursor_remaining(&cursor)) {
        reader->stats->skipped_truncated++;
        return;
    }
    reader->stats->udp_payloads++;
    reader->fn(&source, bytes + cursor.pos, udp_len - 8u, time_ms, FALSE, reader->user_data);
}

static gboolean
read_pcap(const char *path, Reader *reader, GError **error)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *pcap = pcap_open_offline(path, errbuf);
    struct pcap_pkthdr *header;
    const u_char *bytes;
    int linktype;

    if (pcap == NULL) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %s", path, errbuf);
        return FALSE;
    }
    linktype = pcap_datalink(pcap);
    while (pcap_next_ex(pcap, &header, &bytes) == 1)
        read_frame(reader, linktype, header, bytes);
    pcap_close(pcap);
    return TRUE;
}

gboolean
ps_capture_read_file(const char *path, const PsAddress *raw_exporter, PsCaptureFn fn,
                     gpointer user_data, PsCaptureStats *stats, GError **error)
{
    g_autofree gchar *contents = NULL;
    gsize len = 0;
    Reader reader = {.fn = fn, .user_data = user_data, .stats = stats};
    GStatBuf info;

    if (!g_file_get_contents(path, &contents, &len, error))
        return FALSE;
    if (is_pcap_magic((const guint8 *)contents, len))
        return read_pcap(path, &reader, error);
    stats->udp_payloads++;
    fn(raw_exporter, (const guint8 *)contents, len,
       g_stat(path, &info) == 0 ? (gint64)info.st_mtime * 1000 : g_get_real_time() / 1000, TRUE,
       user_data);
    return TRUE;
}
