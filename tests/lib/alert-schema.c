#include "config.h"

#include <string.h>

#include "alert-schema.h"

static JsonNode *
load_schema(void)
{
    /* meson test sets it; the fallback lets the binary run by hand from the build tree */
    const char *path =
        g_getenv("PS_ALERT_SCHEMA") != NULL ? g_getenv("PS_ALERT_SCHEMA") : PS_ALERT_SCHEMA_PATH;
    g_autofree gchar *text = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_nonnull(path);
    g_file_get_contents(path, &text, NULL, &error);
    g_assert_no_error(error);
    JsonNode *schema = json_from_string(text, &error);
    g_assert_no_error(error);
    return schema;
}

static gboolean
type_matches(const char *type, JsonNode *value)
{
    GType held = JSON_NODE_HOLDS_VALUE(value) ? json_node_get_value_type(value) : G_TYPE_INVALID;

    if (g_str_equal(type, "object"))
        return JSON_NODE_HOLDS_OBJECT(value);
    if (g_str_equal(type, "array"))
        return JSON_NODE_HOLDS_ARRAY(value);
    if (g_str_equal(type, "null"))
        return JSON_NODE_HOLDS_NULL(value);
    if (g_str_equal(type, "string"))
        return held == G_TYPE_STRING;
    if (g_str_equal(type, "boolean"))
        return held == G_TYPE_BOOLEAN;
    if (g_str_equal(type, "integer"))
        return held == G_TYPE_INT64;
    if (g_str_equal(type, "number"))
        return held == G_TYPE_INT64 || held == G_TYPE_DOUBLE;
    return FALSE;
}

static gboolean
types_match(JsonNode *type, JsonNode *value)
{
    if (JSON_NODE_HOLDS_VALUE(type))
        return type_matches(json_node_get_string(type), value);
    JsonArray *types = json_node_get_array(type);
    for (guint i = 0; i < json_array_get_length(types); i++) {
        if (type_matches(json_array_get_string_element(types, i), value))
            return TRUE;
    }
    return FALSE;
}

static gboolean
enum_contains(JsonArray *values, JsonNode *value)
{
    if (!JSON_NODE_HOLDS_VALUE(value) || json_node_get_value_type(value) != G_TYPE_STRING)
        return FALSE;
    for (guint i = 0; i < json_array_get_length(values); i++) {
        if (g_str_equal(json_array_get_string_element(values, i), json_node_get_string(value)))
            return TRUE;
    }
    return FALSE;
}

/* Follows "$ref": "#/$defs/<name>", the only kind of reference the schema uses. */
static JsonObject *
resolve_ref(JsonObject *root, JsonObject *schema)
{
    const char *ref = json_object_get_string_member_with_default(schema, "$ref", NULL);

    if (ref == NULL)
        return schema;
    g_assert_true(g_str_has_prefix(ref, "#/$defs/"));
    JsonObject *defs = json_object_get_object_member(root, "$defs");
    g_assert_nonnull(defs);
    g_assert_true(json_object_has_member(defs, ref + strlen("#/$defs/")));
    return json_object_get_object_member(defs, ref + strlen("#/$defs/"));
}

static void check_node(JsonObject *root, JsonObject *schema, JsonNode *value, const char *path,
                       GPtrArray *failures);

static void
check_object(JsonObject *root, JsonObject *schema, JsonObject *object, const char *path,
             GPtrArray *failures)
{
    JsonArray *required = json_object_get_array_member(schema, "required");
    JsonObject *properties = json_object_has_member(schema, "properties")
                                 ? json_object_get_object_member(schema, "properties")
                                 : NULL;

    for (guint i = 0; required != NULL && i < json_array_get_length(required); i++) {
        const char *name = json_array_get_string_element(required, i);
        if (!json_object_has_member(object, name))
            g_ptr_array_add(failures, g_strdup_printf("%s.%s: missing", path, name));
    }
    if (properties == NULL)
        return;
    g_autoptr(GList) names = json_object_get_members(properties);
    for (GList *l = names; l != NULL; l = l->next) {
        g_autofree gchar *member_path = g_strdup_printf("%s.%s", path, (const char *)l->data);
        if (json_object_has_member(object, l->data))
            check_node(root, json_object_get_object_member(properties, l->data),
                       json_object_get_member(object, l->data), member_path, failures);
    }
}

/* Appends to failures every way value breaks schema: type, enum, required, nested. */
static void
check_node(JsonObject *root, JsonObject *schema, JsonNode *value, const char *path,
           GPtrArray *failures)
{
    schema = resolve_ref(root, schema);
    if (json_object_has_member(schema, "type") &&
        !types_match(json_object_get_member(schema, "type"), value)) {
        g_ptr_array_add(failures, g_strdup_printf("%s: wrong type", path));
        return;
    }
    if (json_object_has_member(schema, "enum") &&
        !enum_contains(json_object_get_array_member(schema, "enum"), value))
        g_ptr_array_add(failures, g_strdup_printf("%s: not in enum", path));
    if (JSON_NODE_HOLDS_OBJECT(value))
        check_object(root, schema, json_node_get_object(value), path, failures);
    if (JSON_NODE_HOLDS_ARRAY(value) && json_object_has_member(schema, "items")) {
        JsonArray *array = json_node_get_array(value);
        for (guint i = 0; i < json_array_get_length(array); i++) {
            g_autofree gchar *item_path = g_strdup_printf("%s[%u]", path, i);
            check_node(root, json_object_get_object_member(schema, "items"),
                       json_array_get_element(array, i), item_path, failures);
        }
    }
}

void
ps_test_assert_valid_alert(JsonNode *payload)
{
    g_autoptr(JsonNode) schema = load_schema();
    g_autoptr(GPtrArray) failures = g_ptr_array_new_with_free_func(g_free);
    JsonObject *root = json_node_get_object(schema);

    /* the walker must see the schema's own top-level requirements */
    g_assert_true(json_array_get_length(json_object_get_array_member(root, "required")) >= 19);
    check_node(root, root, payload, "$", failures);
    for (guint i = 0; i < failures->len; i++)
        g_test_message("schema: %s", (const char *)failures->pdata[i]);
    g_assert_cmpuint(failures->len, ==, 0);
}
