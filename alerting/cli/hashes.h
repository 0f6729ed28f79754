/* The health hashes (ps:collector:<id>, ps:exporter:<address>, ps:alerter) as GLib tables:
 * found with SCAN (never KEYS, which blocks a busy Redis) and read with one pipeline. */
#pragma once

#include <glib.h>
#include <hiredis/hiredis.h>

#define PS_HASHES_MAX_KEYS 100000 /* a ceiling: more exporters than any network has */

/* Keys matching pattern, sorted (strings). NULL with error on a Redis failure. */
GPtrArray *ps_hashes_scan(redisContext *redis, const char *pattern, GError **error);

/* HGETALL of every key, in order: a GPtrArray of GHashTable (field -> value, strings), empty
 * for a key that is gone. NULL with error on a Redis failure. */
GPtrArray *ps_hashes_read(redisContext *redis, GPtrArray *keys, GError **error);

/* A field as a number; 0 when absent. */
double ps_hashes_number(GHashTable *hash, const char *field);
