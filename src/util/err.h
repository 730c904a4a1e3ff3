/* Project-wide error codes. Every fallible function returns 0 or one of these negative values;
 * library errors (libuv, LMDB, llhttp, curl) are translated into them in one place per library,
 * and api_respond_internal (api/api.c) translates them into HTTP statuses. */
#ifndef BC_UTIL_ERR_H
#define BC_UTIL_ERR_H

enum bc_err {
    BC_OK = 0,
    BC_ENOMEM = -1,    /* out of memory */
    BC_ENOTFOUND = -2, /* no such record */
    BC_EEXIST = -3,    /* record exists already */
    BC_EINVAL = -4,    /* invalid argument or input */
    BC_EFULL = -5,     /* the store reached its configured maximum size */
    BC_EIO = -6,       /* disk or system error */
    BC_EBUSY = -7,     /* resource held by another process */
    BC_EACCES = -8,    /* permission denied */
    BC_ETOOBIG = -9,   /* input over a configured limit */
    BC_ECORRUPT = -10, /* stored data could not be decoded */
    BC_ENOSPC = -11,   /* the disk (filesystem) is full: ENOSPC or EDQUOT on a write */
};

const char *err_str(int err);

#endif
