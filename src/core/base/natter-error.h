/* natter-error.h: the error domain every core module reports in. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NATTER_ERROR (natter_error_quark ())

typedef enum
{
  NATTER_ERROR_FAILED,
  NATTER_ERROR_INVALID_INPUT,    /* malformed bytes from a peer, the broker or a file */
  NATTER_ERROR_TOO_LARGE,        /* over a wire or storage limit */
  NATTER_ERROR_CORRUPT,          /* a profile, key or database that cannot be read */
  NATTER_ERROR_NEWER_SCHEMA,     /* a database written by a newer Natter */
  NATTER_ERROR_PROFILE_LOCKED,   /* another process is writing this profile */
  NATTER_ERROR_NOT_CONTACT,      /* the peer is not an accepted contact */
  NATTER_ERROR_NOT_CONNECTED,
  NATTER_ERROR_TIMED_OUT,
  NATTER_ERROR_REFUSED,          /* input that is well-formed but not allowed */
} NatterError;

GQuark natter_error_quark (void);

G_END_DECLS
