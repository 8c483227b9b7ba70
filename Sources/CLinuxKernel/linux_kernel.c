// Header-only module: see include/linux_kernel.h. (SwiftPM needs one source file per C target.)
#include "linux_kernel.h"
