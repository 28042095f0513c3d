/**
 * @file maestro/version.h
 * Library version.
 */
#ifndef MAESTRO_VERSION_H
#define MAESTRO_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

#define MAESTRO_VERSION_MAJOR  0
#define MAESTRO_VERSION_MINOR  1
#define MAESTRO_VERSION_PATCH  0
#define MAESTRO_VERSION_STRING "0.1.0"

/** The version of the library in use at run time ("0.1.0"). */
const char *maestro_version(void);

#ifdef __cplusplus
}
#endif
#endif
