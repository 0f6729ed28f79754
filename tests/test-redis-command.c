/* PsRedisCommand writes exactly what hiredis's own formatting writes, for every kind of
 * argument: empty, binary (NUL, CR, LF), long, and numbers at their limits. */
#include "config.h"

#include <string.h>

#include "redis.h"

static void
assert_as_hiredis(PsRedisCommand *command, guint argc, const char **argv, const gsize *lengths)
{
    char *expected = NULL;
    int expected_len = redisFormatCommandArgv(&expected, (int)argc, argv, lengths);
    gsize len;
    const char *text = ps_redis_command_text(command, &len);

    g_assert_cmpint(expected_len, >, 0);
    g_assert_cmpmem(text, len, expected, (gsize)expected_len);
    free(expected);
    ps_redis_command_clear(command);
}

static void
test_arguments(void)
{
    static const char binary[] = {'a', '\0', '\r', '\n', 'b'};
    g_autofree gchar *long_argument = g_strnfill(100000, 'x');
    const char *argv[] = {"EVAL", "", binary, long_argument, "tcp/445:flows"};
    const gsize lengths[] = {4, 0, sizeof(binary), 100000, 13};
    PsRedisCommand command;

    ps_redis_command_init(&command);
    for (guint i = 0; i < G_N_ELEMENTS(argv); i++)
        ps_redis_command_add(&command, argv[i], lengths[i]);
    assert_as_hiredis(&command, G_N_ELEMENTS(argv), argv, lengths);

    ps_redis_command_init(&command); /* no argument at all */
    assert_as_hiredis(&command, 0, argv, lengths);
}

static void
test_numbers(void)
{
    const guint64 values[] = {0, 7, 10, 99, 100, 4294967295u, 4294967296u, G_MAXUINT64};
    g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);
    const char *argv[G_N_ELEMENTS(values)];
    PsRedisCommand command;

    ps_redis_command_init(&command);
    for (guint i = 0; i < G_N_ELEMENTS(values); i++) {
        g_ptr_array_add(texts, g_strdup_printf("%" G_GUINT64_FORMAT, values[i]));
        argv[i] = g_ptr_array_index(texts, i);
        ps_redis_command_add_u64(&command, values[i]);
    }
    assert_as_hiredis(&command, G_N_ELEMENTS(values), argv, NULL);
}

/* Many arguments: the "*argc" line grows to several digits in front of them */
static void
test_many_arguments(void)
{
    const guint n = 12345;
    g_autofree const char **argv = g_new(const char *, n);
    PsRedisCommand command;

    ps_redis_command_init(&command);
    for (guint i = 0; i < n; i++) {
        argv[i] = i % 2 == 0 ? "HINCRBY" : "ps:b:60:1700000040";
        ps_redis_command_add_string(&command, argv[i]);
    }
    assert_as_hiredis(&command, n, argv, NULL);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/redis-command/arguments", test_arguments);
    g_test_add_func("/redis-command/numbers", test_numbers);
    g_test_add_func("/redis-command/many-arguments", test_many_arguments);
    return g_test_run();
}
