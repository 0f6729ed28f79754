/* Listings as a table for people, CSV or JSON for programs, from the same rows.
 *
 * A listing has fixed columns and rows of cells: text, a number with a given number of
 * decimals (rounded once, so CSV and JSON carry the same value), a time, or nothing. Rows may
 * belong to sections ("busiest", "movers"): a table prints each under its title; CSV and JSON
 * add a first column/field "section". JSON is one array of objects, one per row, numbers as
 * numbers, times as ISO 8601 strings, empty cells as null. */
#pragma once

#include <stdio.h>

#include "cli.h"

typedef struct PsOutput PsOutput;

/* columns: NULL-terminated names, copied. */
PsOutput *ps_output_new(const PsCli *cli, const char *const *columns);
void ps_output_free(PsOutput *output);

/* Rows appended after this belong to the section (its title is printed above them). */
void ps_output_section(PsOutput *output, const char *name, const char *title);

/* Starts a row; cells are then added left to right, as many as there are columns. */
void ps_output_row(PsOutput *output);
void ps_output_text(PsOutput *output, const char *text);
void ps_output_number(PsOutput *output, double value, guint decimals);
void ps_output_time(PsOutput *output, gint64 time);
void ps_output_empty(PsOutput *output);

guint ps_output_n_rows(const PsOutput *output);

/* Writes the listing in the chosen format. */
void ps_output_print(const PsOutput *output, FILE *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsOutput, ps_output_free)
