// Stand-ins for what a generated network.cpp defines before it pastes the runtime headers of this folder: the
// model's float type, the largest state and threshold-term counts of its populations, and its parameters.
// Only for compiling a header alone (tests/test_runtime_headers.py, g++ -fsyntax-only); never pasted.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>

typedef double scalar;
#define MAX_VARS 4
#define MAX_TERMS 4
struct Params { double dt; };
