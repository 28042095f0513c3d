/* Small file-system helpers for the caches Maestro keeps on disk. */
#ifndef MAESTRO_BASE_FS_H
#define MAESTRO_BASE_FS_H

/* Creates `dir` and its missing parents, mode 0700 (caches are the user's
 * own). 0, or -1 with errno set (a path too long: ENAMETOOLONG). */
int fs_mkdir_p(const char *dir);

#endif
