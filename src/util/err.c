#include "util/err.h"

const char *err_str(int err)
{
    switch (err) {
    case BC_OK:
        return "success";
    case BC_ENOMEM:
        return "out of memory";
    case BC_ENOTFOUND:
        return "not found";
    case BC_EEXIST:
        return "already exists";
    case BC_EINVAL:
        return "invalid input";
    case BC_EFULL:
        return "storage is full";
    case BC_EIO:
        return "input/output error";
    case BC_EBUSY:
        return "resource busy";
    case BC_EACCES:
        return "permission denied";
    case BC_ETOOBIG:
        return "input too large";
    case BC_ECORRUPT:
        return "stored data is corrupt";
    case BC_ENOSPC:
        return "the disk is full";
    }
    return "unknown error";
}
