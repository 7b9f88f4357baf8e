// Fake CUDA header of the xpiler SIMT CPU emulation: nvcuda::wmma (see ../simt_wmma.h).
#pragma once
#include "../simt_emu.h"
#include "../simt_wmma.h"
