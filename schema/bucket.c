#include "config.h"

#include "bucket.h"

gboolean
ps_bucket_step_valid(guint step)
{
    return step >= PS_BUCKET_STEP_MIN && step <= PS_BUCKET_STEP_MAX && PS_BUCKET_HOUR % step == 0;
}
