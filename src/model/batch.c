#include "model/batch.h"

int batch_is_live(int status)
{
    return status == BATCH_QUEUED || status == BATCH_PROCESSING;
}

int batch_is_final(int status)
{
    return status == BATCH_COMPLETED || status == BATCH_CANCELLED || status == BATCH_FAILED;
}
