// Fake CUDA header of the xpiler SIMT CPU emulation (see ../simt_emu.h).
#pragma once
#include "../simt_emu.h"
