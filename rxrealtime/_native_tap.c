/* rxrealtime._native_tap: the Redis publisher's receive tap, in C.
 *
 * ReceiveTap(kinds, admit, wake, failed, clock, *, invalid, wire=False) -- called as
 * tap(frame, event) with every frame
 * a session receives. The C twin of rxrealtime.sinks._redis_tap.PyReceiveTap, which documents
 * the behaviour (the tests run both on the same inputs): unless ``ended``, count the frame;
 * let ``admit("in", type, frame)`` decide an invalid event, a type in ``kinds`` or a
 * ``session.*`` type (-1: leave it out; else flags, plus 1 for a valid event), any other frame
 * gets flags 1; copy a memoryview frame to bytes; append ``(clock(), "in", frame, flags)`` to
 * ``raw``; call ``wake()`` when ``raw`` then holds one item or at least ``limit``. Whatever a
 * step raises goes to ``failed(error)`` (KeyboardInterrupt and SystemExit propagate).
 *
 * It saves the session a Python frame per received event: the publisher's share of the hot
 * path becomes a few C calls, an attribute read, a set lookup, the clock and one tuple.
 *
 * With ``wire=True`` (an offloaded publisher's tap) the record is written instead into a buffer
 * the tap owns, in the format of rxrealtime.sinks._redis_wire (which holds the rules; the tests
 * hold the two byte-equal), and ``wake()`` is called when the buffer holds one record;
 * ``append(ts, direction, frame, flags)`` writes the publisher's own records, ``take_wire()``
 * returns the bytes and empties the buffer (keeping its memory for the next batch).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <marshal.h>
#include <structmember.h>
#include <string.h>

#include "_micro_clock.h"

static PyObject *str_type;    /* "type" */
static PyObject *str_in;      /* "in" */
static PyObject *str_session; /* "session." */
static PyObject *str_out;     /* "out" */
static PyObject *str_line;    /* "line" (rxrealtime.sinks._redis_encode.LINE) */
/* rxrealtime._native_records.now (or None when it is not built), looked up by the first tap */
static PyObject *native_now;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *kinds;
    PyObject *admit;
    PyObject *wake;
    PyObject *failed;
    PyObject *clock;
    PyObject *raw;
    PyObject *invalid; /* the class of invalid events (given: the events layer is above this one) */
    Py_ssize_t limit;
    Py_ssize_t frames;
    char ended;
    char wire;             /* wire mode: records go to ``buf`` */
    char own_clock;        /* ``clock`` is micro_time's C version: read it here, no call */
    PyObject *buf;         /* the wire buffer, a bytes object only the tap sees (or NULL) */
    Py_ssize_t used;       /* its bytes written so far */
    Py_ssize_t room;       /* its size; the size of the next one after a take */
    Py_ssize_t wire_records;
} Tap;

/* -- the wire format (rxrealtime.sinks._redis_wire) ---------------------------------------- */

enum { IN_BYTES = 0, IN_TEXT = 1, OUT_BYTES = 2, OUT_TEXT = 3, LINE = 4, OTHER = 5 };
#define HEAD_SIZE 17 /* "=diBI": double, int32, byte, uint32 */

/* Room for ``more`` bytes in the wire buffer (grown by doubling). The buffer is a bytes
 * object nobody else sees until take_wire() hands it over, shrunk to what was written: the
 * records are copied once, into it, and never again on this side of the pipe. */
static int
reserve(Tap *self, Py_ssize_t more)
{
    if (self->buf != NULL && self->used + more <= self->room) {
        return 0;
    }
    Py_ssize_t room = self->room > 65536 ? self->room : 65536;
    while (room < self->used + more) {
        if (room > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        room *= 2;
    }
    if (self->buf == NULL) {
        self->buf = PyBytes_FromStringAndSize(NULL, room);
        if (self->buf == NULL) {
            return -1;
        }
    }
    else if (_PyBytes_Resize(&self->buf, room) < 0) { /* it is gone: so are its records */
        self->used = 0;
        self->wire_records = 0;
        return -1;
    }
    self->room = room;
    return 0;
}

static int
put(Tap *self, double ts, long flags, int code, const char *data, Py_ssize_t size)
{
    if (size > 0xFFFFFFFFLL || flags < INT32_MIN || flags > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "a record the wire cannot carry");
        return -1;
    }
    if (reserve(self, HEAD_SIZE + size) < 0) {
        return -1;
    }
    char *at = PyBytes_AS_STRING(self->buf) + self->used;
    int32_t flags32 = (int32_t)flags;
    unsigned char code8 = (unsigned char)code;
    uint32_t size32 = (uint32_t)size;
    memcpy(at, &ts, 8);
    memcpy(at + 8, &flags32, 4);
    memcpy(at + 12, &code8, 1);
    memcpy(at + 13, &size32, 4);
    if (size) {
        memcpy(at + HEAD_SIZE, data, (size_t)size);
    }
    self->used += HEAD_SIZE + size;
    self->wire_records++;
    return 0;
}

/* A frame (text or bytes-like) or anything marshal takes, as _redis_wire.encode_record does;
 * ``direction`` is "in", "out" or another (then only a line's bytes or marshal). */
static int
put_record(Tap *self, double ts, PyObject *direction, PyObject *frame, long flags)
{
    int in = direction == str_in || PyUnicode_Compare(direction, str_in) == 0;
    int out = !in && (direction == str_out || PyUnicode_Compare(direction, str_out) == 0);
    if (PyErr_Occurred()) {
        return -1;
    }
    if (in || out) {
        if (PyUnicode_Check(frame)) {
            Py_ssize_t size;
            const char *text = PyUnicode_AsUTF8AndSize(frame, &size);
            if (text != NULL) {
                return put(self, ts, flags, in ? IN_TEXT : OUT_TEXT, text, size);
            }
            if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
                return -1;
            }
            PyErr_Clear(); /* a lone surrogate: marshal carries it */
        }
        else if (PyMemoryView_Check(frame) &&
                 !PyBuffer_IsContiguous(PyMemoryView_GET_BUFFER(frame), 'C')) {
            PyObject *copy = PyBytes_FromObject(frame); /* a strided view: its bytes in order */
            if (copy == NULL) {
                return -1;
            }
            int done = put(self, ts, flags, in ? IN_BYTES : OUT_BYTES, PyBytes_AS_STRING(copy),
                           PyBytes_GET_SIZE(copy));
            Py_DECREF(copy);
            return done;
        }
        else if (PyBytes_Check(frame) || PyByteArray_Check(frame) || PyMemoryView_Check(frame)) {
            Py_buffer view;
            if (PyObject_GetBuffer(frame, &view, PyBUF_CONTIG_RO) < 0) {
                return -1;
            }
            int done = put(self, ts, flags, in ? IN_BYTES : OUT_BYTES, view.buf, view.len);
            PyBuffer_Release(&view);
            return done;
        }
    }
    else if (PyBytes_CheckExact(frame) &&
             (direction == str_line || PyUnicode_Compare(direction, str_line) == 0)) {
        return put(self, ts, flags, LINE, PyBytes_AS_STRING(frame), PyBytes_GET_SIZE(frame));
    }
    if (PyErr_Occurred()) {
        return -1;
    }
    PyObject *pair = PyTuple_Pack(2, direction, frame);
    if (pair == NULL) {
        return -1;
    }
    PyObject *data = PyMarshal_WriteObjectToString(pair, Py_MARSHAL_VERSION);
    Py_DECREF(pair);
    if (data == NULL) {
        return -1;
    }
    int done = put(self, ts, flags, OTHER, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data));
    Py_DECREF(data);
    return done;
}

/* kind[:8] == "session." (for any kind, as Python would evaluate it) */
static int
is_session(PyObject *kind)
{
    if (PyUnicode_CheckExact(kind)) {
        Py_ssize_t match = PyUnicode_Tailmatch(kind, str_session, 0, 8, -1);
        return match < 0 ? -1 : (int)match;
    }
    PyObject *stop = PyLong_FromLong(8);
    if (stop == NULL) {
        return -1;
    }
    PyObject *cut = PySlice_New(NULL, stop, NULL);
    Py_DECREF(stop);
    if (cut == NULL) {
        return -1;
    }
    PyObject *head = PyObject_GetItem(kind, cut);
    Py_DECREF(cut);
    if (head == NULL) {
        return -1;
    }
    int equal = PyObject_RichCompareBool(head, str_session, Py_EQ);
    Py_DECREF(head);
    return equal;
}

/* The failure in flight to ``failed``; NULL (still raised) for KeyboardInterrupt, SystemExit. */
static PyObject *
report(Tap *self)
{
    if (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt) ||
        PyErr_ExceptionMatches(PyExc_SystemExit)) {
        return NULL;
    }
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback != NULL && value != NULL) {
        PyException_SetTraceback(value, traceback);
    }
    Py_XDECREF(type);
    Py_XDECREF(traceback);
    if (value == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *result = PyObject_CallOneArg(self->failed, value);
    Py_DECREF(value);
    return result;
}

static PyObject *
tap_call(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Tap *self = (Tap *)callable;
    if (PyVectorcall_NARGS(nargsf) != 2 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "a receive tap takes (frame, event)");
        return NULL;
    }
    if (self->raw == NULL) {
        PyErr_SetString(PyExc_TypeError, "ReceiveTap was not initialised");
        return NULL;
    }
    if (self->ended) {
        Py_RETURN_NONE;
    }
    self->frames++;
    PyObject *frame = args[0];
    PyObject *event = args[1];
    PyObject *kind = NULL;
    PyObject *record = NULL;
    PyObject *raw = NULL;
    long flags = 1;
    Py_INCREF(frame);
    int invalid = (PyObject *)Py_TYPE(event) == self->invalid;
    kind = PyObject_GetAttr(event, str_type);
    if (kind == NULL) {
        goto fail;
    }
    int decide = invalid;
    if (!decide) {
        decide = PySet_Contains(self->kinds, kind);
        if (decide < 0) {
            goto fail;
        }
    }
    if (!decide) {
        decide = is_session(kind);
        if (decide < 0) {
            goto fail;
        }
    }
    if (decide) {
        PyObject *argv[3] = {str_in, kind, frame};
        PyObject *decided = PyObject_Vectorcall(self->admit, argv, 3, NULL);
        if (decided == NULL) {
            goto fail;
        }
        flags = PyLong_AsLong(decided);
        Py_DECREF(decided);
        if (flags == -1 && PyErr_Occurred()) {
            goto fail;
        }
        if (flags == -1) {
            Py_DECREF(kind);
            Py_DECREF(frame);
            Py_RETURN_NONE;
        }
        if (!invalid) {
            flags |= 1;
        }
    }
    Py_CLEAR(kind);
    if (self->wire) {
        double ts;
        if (self->own_clock) {
            if (micro_clock(&ts) < 0) {
                goto fail;
            }
        }
        else {
            PyObject *now = PyObject_CallNoArgs(self->clock);
            if (now == NULL) {
                goto fail;
            }
            ts = PyFloat_AsDouble(now);
            Py_DECREF(now);
            if (ts == -1.0 && PyErr_Occurred()) {
                goto fail;
            }
        }
        if (put_record(self, ts, str_in, frame, flags) < 0) {
            goto fail;
        }
        Py_CLEAR(frame);
        if (self->wire_records == 1) {
            PyObject *woken = PyObject_CallNoArgs(self->wake);
            if (woken == NULL) {
                goto fail;
            }
            Py_DECREF(woken);
        }
        Py_RETURN_NONE;
    }
    if (Py_IS_TYPE(frame, &PyMemoryView_Type)) {
        PyObject *copy = PyBytes_FromObject(frame);
        if (copy == NULL) {
            goto fail;
        }
        Py_SETREF(frame, copy);
    }
    record = PyTuple_New(4);
    if (record == NULL) {
        goto fail;
    }
    PyObject *ts;
    if (self->own_clock) {
        double seconds;
        ts = micro_clock(&seconds) < 0 ? NULL : PyFloat_FromDouble(seconds);
    }
    else {
        ts = PyObject_CallNoArgs(self->clock);
    }
    if (ts == NULL) {
        goto fail;
    }
    PyTuple_SET_ITEM(record, 0, ts);
    Py_INCREF(str_in);
    PyTuple_SET_ITEM(record, 1, str_in);
    PyTuple_SET_ITEM(record, 2, frame); /* the tuple holds our reference now */
    frame = NULL;
    PyObject *number = PyLong_FromLong(flags);
    if (number == NULL) {
        goto fail;
    }
    PyTuple_SET_ITEM(record, 3, number);
    raw = self->raw; /* a wake() may swap in another list: keep this one alive meanwhile */
    Py_INCREF(raw);
    if (PyList_Append(raw, record) < 0) {
        goto fail;
    }
    Py_CLEAR(record);
    Py_ssize_t count = PyList_GET_SIZE(raw);
    Py_CLEAR(raw);
    if (count == 1 || count >= self->limit) {
        PyObject *woken = PyObject_CallNoArgs(self->wake);
        if (woken == NULL) {
            goto fail;
        }
        Py_DECREF(woken);
    }
    Py_RETURN_NONE;

fail:
    Py_XDECREF(kind);
    Py_XDECREF(frame);
    Py_XDECREF(record);
    Py_XDECREF(raw);
    return report(self);
}

static int
tap_init(Tap *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"kinds", "admit", "wake", "failed", "clock", "invalid", "wire", NULL};
    PyObject *kinds, *admit, *wake, *failed, *clock, *invalid = NULL;
    int wire = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOO|$Op:ReceiveTap", names, &kinds, &admit,
                                     &wake, &failed, &clock, &invalid, &wire)) {
        return -1;
    }
    if (invalid == NULL || !PyType_Check(invalid)) {
        PyErr_SetString(PyExc_TypeError, "invalid= (the class of invalid events) is required");
        return -1;
    }
    if (!PyAnySet_Check(kinds)) {
        PyErr_SetString(PyExc_TypeError, "kinds must be a set or frozenset");
        return -1;
    }
    if (native_now == NULL) {
        PyObject *records = PyImport_ImportModule("rxrealtime._native_records");
        if (records != NULL) {
            native_now = PyObject_GetAttrString(records, "now");
            Py_DECREF(records);
        }
        if (native_now == NULL) { /* not built: every tap calls its clock */
            PyErr_Clear();
            native_now = Py_None;
            Py_INCREF(native_now);
        }
    }
    PyObject *raw = PyList_New(0);
    if (raw == NULL) {
        return -1;
    }
    Py_INCREF(kinds);
    Py_INCREF(admit);
    Py_INCREF(wake);
    Py_INCREF(failed);
    Py_INCREF(clock);
    Py_INCREF(invalid);
    Py_XSETREF(self->invalid, invalid);
    Py_XSETREF(self->kinds, kinds);
    Py_XSETREF(self->admit, admit);
    Py_XSETREF(self->wake, wake);
    Py_XSETREF(self->failed, failed);
    Py_XSETREF(self->clock, clock);
    Py_XSETREF(self->raw, raw);
    self->limit = 1;
    self->frames = 0;
    self->ended = 0;
    self->wire = (char)wire;
    self->own_clock = clock == native_now;
    self->used = 0;
    self->wire_records = 0;
    self->vectorcall = tap_call;
    return 0;
}

static PyObject *
tap_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    (void)args;
    (void)kwargs;
    Tap *self = (Tap *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->vectorcall = tap_call;
        self->limit = 1;
    }
    return (PyObject *)self;
}

static int
tap_traverse(Tap *self, visitproc visit, void *arg)
{
    Py_VISIT(self->kinds);
    Py_VISIT(self->admit);
    Py_VISIT(self->wake);
    Py_VISIT(self->failed);
    Py_VISIT(self->clock);
    Py_VISIT(self->raw);
    Py_VISIT(self->invalid);
    return 0;
}

static int
tap_clear(Tap *self)
{
    Py_CLEAR(self->kinds);
    Py_CLEAR(self->admit);
    Py_CLEAR(self->wake);
    Py_CLEAR(self->failed);
    Py_CLEAR(self->clock);
    Py_CLEAR(self->raw);
    Py_CLEAR(self->invalid);
    return 0;
}

static void
tap_dealloc(Tap *self)
{
    PyObject_GC_UnTrack(self);
    tap_clear(self);
    Py_XDECREF(self->buf);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
check_wire(Tap *self)
{
    if (self->raw == NULL || !self->wire) {
        PyErr_SetString(PyExc_TypeError, "not a wire tap");
        return -1;
    }
    return 0;
}

static PyObject *
tap_append(Tap *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "append(ts, direction, frame, flags)");
        return NULL;
    }
    if (check_wire(self) < 0) {
        return NULL;
    }
    double ts = PyFloat_AsDouble(args[0]);
    if (ts == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    if (!PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "direction must be a str");
        return NULL;
    }
    long flags = PyLong_AsLong(args[3]);
    if (flags == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (put_record(self, ts, args[1], args[2], flags) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
tap_take_wire(Tap *self, PyObject *unused)
{
    (void)unused;
    if (check_wire(self) < 0) {
        return NULL;
    }
    if (self->used == 0) {
        return PyBytes_FromStringAndSize(NULL, 0);
    }
    PyObject *data = self->buf;
    self->buf = NULL;
    Py_ssize_t used = self->used;
    self->used = 0;
    self->wire_records = 0;
    if (_PyBytes_Resize(&data, used) < 0) { /* cannot happen when shrinking; lost if it does */
        return NULL;
    }
    return data;
}

static PyMethodDef tap_methods[] = {
    {"append", (PyCFunction)(void (*)(void))tap_append, METH_FASTCALL,
     "Write a record the publisher made itself (wire mode)."},
    {"take_wire", (PyCFunction)tap_take_wire, METH_NOARGS,
     "The wire buffer's bytes; it is empty afterwards."},
    {NULL},
};

static PyObject *
wire_records_get(Tap *self, void *closure)
{
    (void)closure;
    if (check_wire(self) < 0) {
        return NULL;
    }
    return PyLong_FromSsize_t(self->wire_records);
}

static PyObject *
raw_get(Tap *self, void *closure)
{
    (void)closure;
    if (self->raw == NULL) {
        PyErr_SetString(PyExc_AttributeError, "raw");
        return NULL;
    }
    Py_INCREF(self->raw);
    return self->raw;
}

static int
raw_set(Tap *self, PyObject *value, void *closure)
{
    (void)closure;
    if (value == NULL || !PyList_CheckExact(value)) {
        PyErr_SetString(PyExc_TypeError, "raw must be a list");
        return -1;
    }
    Py_INCREF(value);
    Py_XSETREF(self->raw, value);
    return 0;
}

static PyGetSetDef tap_getset[] = {
    {"raw", (getter)raw_get, (setter)raw_set,
     "The records appended since the publisher last took them.", NULL},
    {"wire_records", (getter)wire_records_get, NULL, "How many records the wire buffer holds.",
     NULL},
    {NULL},
};

static PyMemberDef tap_members[] = {
    {"limit", T_PYSSIZET, offsetof(Tap, limit), 0,
     "The length of raw from which every append calls wake."},
    {"frames", T_PYSSIZET, offsetof(Tap, frames), 0,
     "Frames this tap was called with (left-out ones included) while not ended."},
    {"ended", T_BOOL, offsetof(Tap, ended), 0,
     "Once true, frames are neither counted nor recorded."},
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(Tap, vectorcall), READONLY, NULL},
    {NULL},
};

static PyTypeObject TapType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rxrealtime._native_tap.ReceiveTap",
    .tp_doc = "The Redis publisher's receive tap (see rxrealtime.sinks._redis_tap).",
    .tp_basicsize = sizeof(Tap),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = tap_new,
    .tp_init = (initproc)tap_init,
    .tp_dealloc = (destructor)tap_dealloc,
    .tp_traverse = (traverseproc)tap_traverse,
    .tp_clear = (inquiry)tap_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Tap, vectorcall),
    .tp_members = tap_members,
    .tp_getset = tap_getset,
    .tp_methods = tap_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "rxrealtime._native_tap",
    .m_doc = "The Redis publisher's receive tap, in C (see rxrealtime.sinks._redis_tap).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__native_tap(void)
{
    str_type = PyUnicode_InternFromString("type");
    str_in = PyUnicode_InternFromString("in");
    str_session = PyUnicode_InternFromString("session.");
    str_out = PyUnicode_InternFromString("out");
    str_line = PyUnicode_InternFromString("line");
    if (str_type == NULL || str_in == NULL || str_session == NULL || str_out == NULL ||
        str_line == NULL) {
        return NULL;
    }
    if (PyType_Ready(&TapType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    Py_INCREF(&TapType);
    if (PyModule_AddObject(m, "ReceiveTap", (PyObject *)&TapType) < 0) {
        Py_DECREF(&TapType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
