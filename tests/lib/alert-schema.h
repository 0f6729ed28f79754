/* The generic alert payload against schema/alert.schema.json, walked with json-glib: required
 * members, types, enums, $ref to $defs, nested objects and arrays (no external validator in
 * Debian's C world). The schema's path: PS_ALERT_SCHEMA, else PS_ALERT_SCHEMA_PATH. */
#pragma once

#include <json-glib/json-glib.h>

/* Fails the test, listing every way payload breaks the schema. */
void ps_test_assert_valid_alert(JsonNode *payload);
