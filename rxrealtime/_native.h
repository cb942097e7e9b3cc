/* rxrealtime._native: what its two source files share. */
#ifndef RXREALTIME_NATIVE_H
#define RXREALTIME_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* The offset of the writable object slot ``name`` of ``cls`` (or of a base) inside an instance,
 * or -1 with a TypeError set (_native.c). */
Py_ssize_t slot_offset(PyTypeObject *cls, PyObject *name);

/* FlatDecoder (_flat.c). */
extern PyTypeObject FlatDecoderType;

#endif
