/* The courier: a thread that carries the outbox's messages to their receivers, so that a slow
 * or dead webhook never holds up detection. One lane per receiver, one message in flight per
 * lane, oldest first (in order); lanes run side by side through one libcurl multi handle.
 *
 * A message leaves the outbox only when its receiver answered 2xx. 5xx, timeouts and refused
 * connections are retried with exponential backoff and jitter; 429 (and 503) wait as long as
 * Retry-After says; other 4xx are refused for good and go to the dead letters at once; a
 * message still undelivered after dead_after_s goes there too. Every attempt carries the
 * message's idempotency key (header Idempotency-Key), the same after a restart, so a receiver
 * drops the repeat when we die between its answer and our acknowledgement. URLs and secrets
 * are never logged: receivers are named. TLS peers are always verified. */
#pragma once

#include "receiver.h"
#include "redis.h"

typedef struct {
    const char *prefix;
    const PsRedisAddress *address; /* copied */
    gint64 dead_after_s;           /* 21600: undelivered this long -> dead letters */
    double backoff_min_s;          /* 2: first retry after about this long ... */
    double backoff_max_s;          /* 300: ... doubling up to this */
    double retry_after_max_s;      /* 3600: a longer Retry-After is cut to this */
    guint max_outbox;              /* 10000: older messages beyond it -> dead letters */
} PsCourierConfig;

void ps_courier_config_init(PsCourierConfig *config);

typedef struct {
    guint64 delivered;       /* accepted by their receiver */
    guint64 failed_attempts; /* attempts that will be retried */
    guint64 dead_letters;    /* moved to ps:outbox:dead */
    guint64 redis_errors;
    gint64 outbox_length; /* at the last look, -1 before the first */
} PsCourierCounters;

typedef struct PsCourier PsCourier;

/* Starts the thread. receivers: PsReceiver pointers, copied. */
PsCourier *ps_courier_start(const PsCourierConfig *config, GPtrArray *receivers);

/* Stops the thread; messages in flight stay in the outbox for the next start. */
void ps_courier_stop(PsCourier *courier);

/* New messages are in the outbox: look now rather than at the next tick. */
void ps_courier_wake(PsCourier *courier);

/* After a configuration reload: lanes of removed receivers end after their message in flight. */
void ps_courier_set_receivers(PsCourier *courier, GPtrArray *receivers);

void ps_courier_counters(PsCourier *courier, PsCourierCounters *counters);

/* Per receiver: delivered and failed attempts, for metrics. fn is called under a lock. */
typedef void (*PsCourierLaneFn)(const char *receiver, guint64 delivered, guint64 failed,
                                guint64 dead, gpointer user_data);
void ps_courier_foreach_lane(PsCourier *courier, PsCourierLaneFn fn, gpointer user_data);
