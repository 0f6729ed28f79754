#include "config.h"

#include <math.h>
#include <string.h>

#include "output.h"

#define PS_OUTPUT_MAX_DECIMALS 6

typedef enum {
    CELL_EMPTY,
    CELL_TEXT,
    CELL_NUMBER,
    CELL_TIME,
} CellKind;

typedef struct {
    CellKind kind;
    gchar *text; /* as printed in a table or CSV */
    double number;
    guint decimals;
} Cell;

typedef struct {
    guint section;
    GArray *cells; /* Cell */
} Row;

struct PsOutput {
    const PsCli *cli;
    GStrv columns;
    GPtrArray *section_names;  /* strings */
    GPtrArray *section_titles; /* strings */
    GPtrArray *rows;           /* Row */
};

static void
cell_clear(gpointer data)
{
    Cell *cell = data;

    g_free(cell->text);
}

static void
row_free(Row *row)
{
    g_array_unref(row->cells);
    g_free(row);
}

PsOutput *
ps_output_new(const PsCli *cli, const char *const *columns)
{
    PsOutput *output = g_new0(PsOutput, 1);

    output->cli = cli;
    output->columns = g_strdupv((gchar **)columns);
    output->section_names = g_ptr_array_new_with_free_func(g_free);
    output->section_titles = g_ptr_array_new_with_free_func(g_free);
    output->rows = g_ptr_array_new_with_free_func((GDestroyNotify)row_free);
    return output;
}

void
ps_output_free(PsOutput *output)
{
    if (output == NULL)
        return;
    g_strfreev(output->columns);
    g_ptr_array_unref(output->section_names);
    g_ptr_array_unref(output->section_titles);
    g_ptr_array_unref(output->rows);
    g_free(output);
}

void
ps_output_section(PsOutput *output, const char *name, const char *title)
{
    g_ptr_array_add(output->section_names, g_strdup(name));
    g_ptr_array_add(output->section_titles, g_strdup(title));
}

void
ps_output_row(PsOutput *output)
{
    Row *row = g_new0(Row, 1);

    row->section = output->section_names->len > 0 ? output->section_names->len - 1 : 0;
    row->cells = g_array_new(FALSE, TRUE, sizeof(Cell));
    g_array_set_clear_func(row->cells, cell_clear);
    g_ptr_array_add(output->rows, row);
}

static void
add_cell(PsOutput *output, Cell *cell)
{
    Row *row;

    g_return_if_fail(output->rows->len > 0);
    row = g_ptr_array_index(output->rows, output->rows->len - 1);
    g_return_if_fail(row->cells->len < g_strv_length(output->columns));
    g_array_append_val(row->cells, *cell);
}

void
ps_output_text(PsOutput *output, const char *text)
{
    Cell cell = {CELL_TEXT, g_strdup(text), 0, 0};

    add_cell(output, &cell);
}

void
ps_output_number(PsOutput *output, double value, guint decimals)
{
    double factor;
    Cell cell = {CELL_NUMBER, NULL, 0, MIN(decimals, PS_OUTPUT_MAX_DECIMALS)};

    if (!isfinite(value)) {
        ps_output_empty(output);
        return;
    }
    factor = pow(10, cell.decimals);
    /* rounded once here, so the table, CSV and JSON all carry this very value */
    cell.number = round(value * factor) / factor;
    if (cell.number == 0)
        cell.number = 0; /* no "-0" */
    cell.text = g_strdup_printf("%.*f", (int)cell.decimals, cell.number);
    add_cell(output, &cell);
}

void
ps_output_time(PsOutput *output, gint64 time)
{
    Cell cell = {CELL_TIME, ps_cli_format_time(output->cli, time), (double)time, 0};

    add_cell(output, &cell);
}

void
ps_output_empty(PsOutput *output)
{
    Cell cell = {CELL_EMPTY, g_strdup(""), 0, 0};

    add_cell(output, &cell);
}

guint
ps_output_n_rows(const PsOutput *output)
{
    return output->rows->len;
}

static const Cell *
row_cell(const Row *row, guint column)
{
    static const Cell empty = {CELL_EMPTY, (gchar *)"", 0, 0};

    return column < row->cells->len ? &g_array_index(row->cells, Cell, column) : &empty;
}

/* ---- table ---- */

/* Display width: UTF-8 characters (every text here is one column per character). */
static guint
text_width(const char *text)
{
    return (guint)g_utf8_strlen(text, -1);
}

static void
column_widths(const PsOutput *output, guint section, guint *widths)
{
    for (guint c = 0; output->columns[c] != NULL; c++)
        widths[c] = text_width(output->columns[c]);
    for (guint r = 0; r < output->rows->len; r++) {
        const Row *row = g_ptr_array_index(output->rows, r);
        if (row->section != section)
            continue;
        for (guint c = 0; output->columns[c] != NULL; c++) {
            const Cell *cell = row_cell(row, c);
            widths[c] = MAX(widths[c], text_width(cell->kind == CELL_EMPTY ? "-" : cell->text));
        }
    }
}

static void
print_padded(FILE *out, const char *text, guint width, gboolean right, gboolean last)
{
    guint pad = width - MIN(width, text_width(text));

    if (right)
        fprintf(out, "%*s%s", (int)pad, "", text);
    else
        fprintf(out, "%s%*s", text, last ? 0 : (int)pad, "");
    fputs(last ? "\n" : "  ", out);
}

static void
print_table_section(const PsOutput *output, guint section, FILE *out)
{
    guint n_columns = g_strv_length(output->columns);
    g_autofree guint *widths = g_new0(guint, n_columns);

    column_widths(output, section, widths);
    for (guint c = 0; c < n_columns; c++)
        print_padded(out, output->columns[c], widths[c], FALSE, c + 1 == n_columns);
    for (guint r = 0; r < output->rows->len; r++) {
        const Row *row = g_ptr_array_index(output->rows, r);
        if (row->section != section)
            continue;
        for (guint c = 0; c < n_columns; c++) {
            const Cell *cell = row_cell(row, c);
            print_padded(out, cell->kind == CELL_EMPTY ? "-" : cell->text, widths[c],
                         cell->kind == CELL_NUMBER, c + 1 == n_columns);
        }
    }
}

static void
print_table(const PsOutput *output, FILE *out)
{
    guint n_sections = MAX(1, output->section_names->len);

    for (guint s = 0; s < n_sections; s++) {
        if (output->section_titles->len > 0)
            fprintf(out, "%s%s\n", s > 0 ? "\n" : "",
                    (const char *)g_ptr_array_index(output->section_titles, s));
        print_table_section(output, s, out);
    }
}

/* ---- CSV: RFC 4180 quoting, lines end with LF for shell tools ---- */

static void
print_csv_field(FILE *out, const char *text, gboolean last)
{
    if (strpbrk(text, ",\"\r\n") != NULL) {
        fputc('"', out);
        for (const char *p = text; *p != '\0'; p++) {
            if (*p == '"')
                fputc('"', out);
            fputc(*p, out);
        }
        fputc('"', out);
    } else {
        fputs(text, out);
    }
    fputs(last ? "\n" : ",", out);
}

static void
print_csv(const PsOutput *output, FILE *out)
{
    gboolean sections = output->section_names->len > 0;

    if (sections)
        print_csv_field(out, "section", FALSE);
    for (guint c = 0; output->columns[c] != NULL; c++)
        print_csv_field(out, output->columns[c], output->columns[c + 1] == NULL);
    for (guint r = 0; r < output->rows->len; r++) {
        const Row *row = g_ptr_array_index(output->rows, r);
        if (sections)
            print_csv_field(out, g_ptr_array_index(output->section_names, row->section), FALSE);
        for (guint c = 0; output->columns[c] != NULL; c++)
            print_csv_field(out, row_cell(row, c)->text, output->columns[c + 1] == NULL);
    }
}

/* ---- JSON: written by hand so that a number is the very text CSV prints ("0.85"), not
 * json-glib's 17 significant digits ("0.84999999999999998") ---- */

static void
print_json_string(FILE *out, const char *text)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void
print_json_cell(FILE *out, const Cell *cell)
{
    switch (cell->kind) {
    case CELL_EMPTY:
        fputs("null", out);
        break;
    case CELL_NUMBER:
        fputs(cell->text, out);
        break;
    case CELL_TEXT:
    case CELL_TIME:
        print_json_string(out, cell->text);
        break;
    }
}

static void
print_json(const PsOutput *output, FILE *out)
{
    fputs("[", out);
    for (guint r = 0; r < output->rows->len; r++) {
        const Row *row = g_ptr_array_index(output->rows, r);
        fputs(r > 0 ? ",\n  {" : "\n  {", out);
        if (output->section_names->len > 0) {
            fputs("\"section\": ", out);
            print_json_string(out, g_ptr_array_index(output->section_names, row->section));
            fputs(", ", out);
        }
        for (guint c = 0; output->columns[c] != NULL; c++) {
            print_json_string(out, output->columns[c]);
            fputs(": ", out);
            print_json_cell(out, row_cell(row, c));
            fputs(output->columns[c + 1] != NULL ? ", " : "}", out);
        }
    }
    fputs(output->rows->len > 0 ? "\n]\n" : "]\n", out);
}

void
ps_output_print(const PsOutput *output, FILE *out)
{
    switch (output->cli->format) {
    case PS_CLI_FORMAT_TABLE:
        print_table(output, out);
        break;
    case PS_CLI_FORMAT_CSV:
        print_csv(output, out);
        break;
    case PS_CLI_FORMAT_JSON:
        print_json(output, out);
        break;
    }
}
