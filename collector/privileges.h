/* Dropping root after the sockets are bound: a collector parses untrusted packets from the
 * network, so it should not do so as root. Only the binding (ports below 1024, a large
 * receive buffer) and reading root-only secrets need root, and both happen before. */
#pragma once

#include <glib.h>

#define PS_PRIVILEGES_DEFAULT_USER "portsurge"

#define PS_PRIVILEGES_ERROR ps_privileges_error_quark()
GQuark ps_privileges_error_quark(void);

typedef enum {
    PS_PRIVILEGES_ERROR_NO_USER, /* the user named does not exist */
    PS_PRIVILEGES_ERROR_FAILED,  /* a set*id call failed, or root could be regained */
} PsPrivilegesError;

/* Call once everything that needs root is done. Running as root: becomes user (its groups,
 * gid, uid), or PS_PRIVILEGES_DEFAULT_USER when user is NULL and it exists; without either,
 * or with user "root", stays root and warns. Not root: nothing to do (a user given is
 * ignored with a message). FALSE with error when it cannot become the user: the caller must
 * not go on as root when told otherwise. */
gboolean ps_privileges_drop(const char *user, GError **error);
