/* What the fuzz targets of the file and text parsers share (fuzz-capture, fuzz-stored,
 * fuzz-args, fuzz-settings): the input as a file for code that takes a path, the input as a
 * C string of exactly its own length, a pick of the parser by the first byte, and a log writer
 * that keeps the fuzzer's output readable. */
#pragma once

#include <glib.h>

/* A path that reads back exactly data (size bytes): an in-memory file (memfd_create) made at
 * the first call and rewritten at every call, so code that opens a path reads the input
 * without a file on disk per input. Valid until the next call. */
const char *ps_fuzz_util_file(const guint8 *data, gsize size);

/* data as a NUL-terminated string in an allocation of exactly size + 1 bytes, so that ASan
 * catches a read past its end; free with g_free(). A NUL inside ends the string early, as
 * it would for the program. */
gchar *ps_fuzz_util_string(const guint8 *data, gsize size);

/* The parser an input is for: the entry of letters ("rdt...") that is its first byte, else
 * the first byte modulo the number of parsers, so that no input is wasted. -1 for an empty
 * input. Seeds start with the letter, so they can be read and written by hand. */
gint ps_fuzz_util_pick(const guint8 *data, gsize size, const char *letters);

/* Drops warnings, messages, info and debug (a parser refusing its input may warn at every
 * input); criticals and errors are printed and abort, as a failed g_return_if_fail() is a
 * bug the input found. Call at every input: only the first call installs the writer. */
void ps_fuzz_util_quiet_logs(void);

/* libFuzzer's entry point, defined by each fuzz-<parser>.c; driver.c calls it per file. */
int LLVMFuzzerTestOneInput(const guint8 *data, size_t size);
