/* The data directory's server lock (serve.lock, flock): one server per data directory, since
 * LMDB itself would allow two, but two dialers would each call every contact. */
#ifndef BC_UTIL_DIRLOCK_H
#define BC_UTIL_DIRLOCK_H

/* Takes the lock of data directory dir: 0 with *fd (close it to let go), BC_EBUSY when a
 * running server holds it, or BC_EIO (the file cannot be made; errno says why). */
int dirlock_take(const char *dir, int *fd);

#endif
