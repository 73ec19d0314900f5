/* natter-error.c: the NATTER_ERROR domain. */
#include "natter-error.h"

G_DEFINE_QUARK (natter-error-quark, natter_error)
