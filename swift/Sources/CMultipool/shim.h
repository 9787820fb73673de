/* The installed C header, by its include path (pkg-config --cflags multipool). */
#include <multipool.h>
