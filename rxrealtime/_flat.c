/* FlatDecoder: a flat JSON event decoded straight into its class, with no dict in between.
 *
 * Most frames of a session are flat objects: ``{"type": ..., "event_id": ..., "item_id": ...,
 * "output_index": 0, "delta": "..."}``, every value a string, an integer, a boolean or null.
 * FlatDecoder(shapes, extra) knows one shape per event type; calling it with a frame returns
 * the event, or None when the frame is not provably one it decodes exactly as the general
 * decoder would (rxrealtime/events/_flat.py builds the shapes and says which frames those are;
 * the tests hold both decoders equal). It never raises on content: anything unexpected is None,
 * and the caller decodes the frame the general way. Only MemoryError propagates.
 *
 * What it takes, checked byte by byte on the frame's UTF-8 text:
 *   - a ``str`` of ASCII characters, or a bytes-like object (bytes, bytearray, a contiguous
 *     memoryview) whose strings are valid UTF-8;
 *   - one JSON object, ``"type"`` its first key, its value a type the decoder has a shape for;
 *   - every other key one of that shape's fields, none twice (keys without escapes);
 *   - every value a string without escapes or control characters, an integer of at most 18
 *     digits (no fraction, no exponent, no leading zero, not -0), true, false or null, each of
 *     a JSON type the field admits (null only for an optional field);
 *   - every required field present; JSON whitespace between tokens; nothing after the object.
 * The instance is built as SlotBuilder builds it: allocated, each slot filled directly; absent
 * optional fields None, ``type`` the shape's own type string, ``extra`` the object given.
 */
#include "_native.h"

#include <stddef.h>
#include <string.h>
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#define FLAT_SSE2 1
#endif

/* A field's kind: the JSON types it admits; TYPE and EXTRA mark those two slots. */
enum {
    ALLOW_STR = 1,
    ALLOW_INT = 2,
    ALLOW_BOOL = 4,
    REQUIRED = 8,
    KIND_TYPE = 16,
    KIND_EXTRA = 32,
};
#define MAX_FIELDS 64

typedef struct {
    const char *name; /* the wire key, UTF-8 (owned by the shapes tuple) */
    Py_ssize_t length;
    Py_ssize_t offset; /* its slot in an instance */
    int kind;
} FlatField;

typedef struct {
    const char *type; /* the wire type, UTF-8 (owned by the shapes tuple) */
    Py_ssize_t type_length;
    PyObject *type_value; /* the str stored in ``type`` (borrowed from the shapes tuple) */
    PyTypeObject *cls;    /* borrowed from the shapes tuple */
    Py_ssize_t type_offset, extra_offset;
    Py_ssize_t count; /* fields besides type and extra */
    uint64_t required;
    FlatField fields[MAX_FIELDS];
} FlatShape;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *shapes_given; /* keeps every borrowed name, class and type string alive */
    PyObject *extra;
    Py_ssize_t count;
    FlatShape *shapes;
} FlatDecoder;

static inline const char *
skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
        p++;
    }
    return p;
}

/* The closing quote of the string whose characters start at ``p``, or NULL when it holds an
 * escape or a control character or is not closed; ``*high`` tells whether a byte >= 0x80 is
 * among its characters. */
static const char *
string_end(const char *p, const char *end, int *high)
{
    unsigned int top = 0;
#ifdef FLAT_SSE2
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i control = _mm_set1_epi8(0x1f);
    while (end - p >= 16) {
        __m128i chunk = _mm_loadu_si128((const __m128i *)p);
        __m128i special = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, backslash)),
            _mm_cmpeq_epi8(_mm_max_epu8(chunk, control), control)); /* byte <= 0x1f */
        unsigned int found = (unsigned int)_mm_movemask_epi8(special);
        unsigned int high_bits = (unsigned int)_mm_movemask_epi8(chunk);
        if (found != 0) {
            int at = __builtin_ctz(found);
            top |= high_bits & ((1u << at) - 1u);
            p += at;
            *high = top != 0;
            return *p == '"' ? p : NULL;
        }
        top |= high_bits;
        p += 16;
    }
#endif
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *high = top != 0;
            return p;
        }
        if (c == '\\' || c < 0x20) {
            return NULL;
        }
        top |= c & 0x80u;
    }
    return NULL;
}

/* The str of ``length`` bytes at ``start``, NULL with UnicodeDecodeError for invalid UTF-8 (or
 * MemoryError). */
static PyObject *
make_string(const char *start, Py_ssize_t length, int high)
{
    if (high) {
        return PyUnicode_DecodeUTF8(start, length, "strict");
    }
    PyObject *text = PyUnicode_New(length, 127);
    if (text != NULL && length > 0) {
        memcpy(PyUnicode_1BYTE_DATA(text), start, (size_t)length);
    }
    return text;
}

/* An integer as JSON writes it and orjson reads it into an int: the end of its text, or NULL
 * for anything else (a fraction, an exponent, a leading zero, -0, more than 18 digits). */
static const char *
parse_integer(const char *p, const char *end, long long *value)
{
    int negative = p < end && *p == '-';
    p += negative;
    if (p >= end || *p < '0' || *p > '9' || (*p == '0' && negative)) {
        return NULL;
    }
    long long number = 0;
    if (*p == '0') {
        p++;
    } else {
        int digits = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            if (++digits > 18) {
                return NULL;
            }
            number = number * 10 + (*p - '0');
            p++;
        }
    }
    if (p < end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E')) {
        return NULL;
    }
    *value = negative ? -number : number;
    return p;
}

static inline int
is_word(const char *p, const char *end, const char *word, Py_ssize_t length)
{
    return end - p >= length && memcmp(p, word, (size_t)length) == 0;
}

static const FlatShape *
find_shape(const FlatDecoder *self, const char *type, Py_ssize_t length)
{
    for (Py_ssize_t i = 0; i < self->count; i++) {
        const FlatShape *shape = &self->shapes[i];
        if (shape->type_length == length && memcmp(shape->type, type, (size_t)length) == 0) {
            return shape;
        }
    }
    return NULL;
}

/* The index of the field named by the key, trying ``expected`` (the one after the last) first. */
static Py_ssize_t
find_field(const FlatShape *shape, const char *key, Py_ssize_t length, Py_ssize_t expected)
{
    if (expected < shape->count) {
        const FlatField *field = &shape->fields[expected];
        if (field->length == length && memcmp(field->name, key, (size_t)length) == 0) {
            return expected;
        }
    }
    for (Py_ssize_t i = 0; i < shape->count; i++) {
        const FlatField *field = &shape->fields[i];
        if (field->length == length && memcmp(field->name, key, (size_t)length) == 0) {
            return i;
        }
    }
    return -1;
}

/* The event in the text from ``p`` to ``end``; Py_None when it is not a flat frame this decoder
 * takes; NULL with MemoryError. ``ascii``: the text is known to be ASCII. */
static PyObject *
decode_text(const FlatDecoder *self, const char *p, const char *end, int ascii)
{
    PyObject *values[MAX_FIELDS];
    const FlatShape *shape = NULL;
    uint64_t seen = 0;
    int high = 0;

    p = skip_space(p, end);
    if (p >= end || *p != '{') {
        Py_RETURN_NONE;
    }
    p = skip_space(p + 1, end);
    if (!is_word(p, end, "\"type\"", 6)) {
        Py_RETURN_NONE;
    }
    p = skip_space(p + 6, end);
    if (p >= end || *p != ':') {
        Py_RETURN_NONE;
    }
    p = skip_space(p + 1, end);
    if (p >= end || *p != '"') {
        Py_RETURN_NONE;
    }
    const char *type_end = string_end(p + 1, end, &high);
    if (type_end == NULL || (shape = find_shape(self, p + 1, type_end - p - 1)) == NULL) {
        Py_RETURN_NONE;
    }
    p = type_end + 1;
    for (Py_ssize_t i = 0; i < shape->count; i++) {
        values[i] = NULL;
    }
    Py_ssize_t expected = 0;
    for (;;) {
        p = skip_space(p, end);
        if (p < end && *p == '}') {
            break;
        }
        if (p >= end || *p != ',') {
            goto not_flat;
        }
        p = skip_space(p + 1, end);
        if (p >= end || *p != '"') {
            goto not_flat;
        }
        const char *key_end = string_end(p + 1, end, &high);
        if (key_end == NULL) {
            goto not_flat;
        }
        Py_ssize_t index = find_field(shape, p + 1, key_end - p - 1, expected);
        if (index < 0 || (seen >> index) & 1u) {
            goto not_flat; /* a key the class does not declare, or one given twice */
        }
        seen |= (uint64_t)1 << index;
        expected = index + 1;
        p = skip_space(key_end + 1, end);
        if (p >= end || *p != ':') {
            goto not_flat;
        }
        p = skip_space(p + 1, end);
        if (p >= end) {
            goto not_flat;
        }
        int kind = shape->fields[index].kind;
        PyObject *value;
        char first = *p;
        if (first == '"') {
            const char *value_end = string_end(p + 1, end, &high);
            if (!(kind & ALLOW_STR) || value_end == NULL) {
                goto not_flat;
            }
            value = make_string(p + 1, value_end - p - 1, high && !ascii);
            if (value == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                    goto failed;
                }
                PyErr_Clear();
                goto not_flat;
            }
            p = value_end + 1;
        } else if (first == '-' || (first >= '0' && first <= '9')) {
            long long number;
            const char *number_end = parse_integer(p, end, &number);
            if (!(kind & ALLOW_INT) || number_end == NULL) {
                goto not_flat;
            }
            if ((value = PyLong_FromLongLong(number)) == NULL) {
                goto failed;
            }
            p = number_end;
        } else if (is_word(p, end, "true", 4) && (kind & ALLOW_BOOL)) {
            value = Py_NewRef(Py_True);
            p += 4;
        } else if (is_word(p, end, "false", 5) && (kind & ALLOW_BOOL)) {
            value = Py_NewRef(Py_False);
            p += 5;
        } else if (is_word(p, end, "null", 4) && !(kind & REQUIRED)) {
            value = Py_NewRef(Py_None);
            p += 4;
        } else {
            goto not_flat;
        }
        values[index] = value;
    }
    if (skip_space(p + 1, end) != end || (seen & shape->required) != shape->required) {
        goto not_flat;
    }
    PyObject *instance = shape->cls->tp_alloc(shape->cls, 0);
    if (instance == NULL) {
        goto failed;
    }
    for (Py_ssize_t i = 0; i < shape->count; i++) {
        PyObject *value = values[i] != NULL ? values[i] : Py_NewRef(Py_None);
        *(PyObject **)((char *)instance + shape->fields[i].offset) = value;
    }
    *(PyObject **)((char *)instance + shape->type_offset) = Py_NewRef(shape->type_value);
    *(PyObject **)((char *)instance + shape->extra_offset) = Py_NewRef(self->extra);
    return instance;

not_flat:
    for (Py_ssize_t i = 0; i < shape->count; i++) {
        Py_XDECREF(values[i]);
    }
    Py_RETURN_NONE;
failed:
    for (Py_ssize_t i = 0; i < shape->count; i++) {
        Py_XDECREF(values[i]);
    }
    return NULL;
}

static PyObject *
flat_decoder_call(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    FlatDecoder *self = (FlatDecoder *)callable;
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "a FlatDecoder takes one frame, by position");
        return NULL;
    }
    PyObject *frame = args[0];
    if (PyUnicode_CheckExact(frame)) {
        if (!PyUnicode_IS_ASCII(frame)) {
            Py_RETURN_NONE;
        }
        const char *text = (const char *)PyUnicode_1BYTE_DATA(frame);
        return decode_text(self, text, text + PyUnicode_GET_LENGTH(frame), 1);
    }
    if (PyBytes_CheckExact(frame)) {
        const char *data = PyBytes_AS_STRING(frame);
        return decode_text(self, data, data + PyBytes_GET_SIZE(frame), 0);
    }
    if (!PyObject_CheckBuffer(frame) || PyUnicode_Check(frame)) {
        Py_RETURN_NONE;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(frame, &view, PyBUF_SIMPLE) < 0) {
        PyErr_Clear(); /* not one contiguous block of bytes: the general decoder decides */
        Py_RETURN_NONE;
    }
    const char *data = (const char *)view.buf;
    PyObject *event = decode_text(self, data, data + view.len, 0);
    PyBuffer_Release(&view);
    return event;
}

/* Fill ``shape`` from ``(wire_type, cls, ((name, kind), ...))``; -1 with TypeError. */
static int
read_shape(FlatShape *shape, PyObject *given)
{
    PyObject *type_value, *cls, *fields;
    if (!PyTuple_Check(given)
        || !PyArg_ParseTuple(given, "UO!O!:FlatDecoder shape", &type_value, &PyType_Type, &cls,
                             &PyTuple_Type, &fields)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "a shape is (wire_type, cls, fields)");
        }
        return -1;
    }
    PyTypeObject *type = (PyTypeObject *)cls;
    if (type->tp_itemsize != 0 || type->tp_dictoffset != 0 || type->tp_alloc == NULL) {
        PyErr_Format(PyExc_TypeError, "%s must be a class with __slots__ and no __dict__",
                     type->tp_name);
        return -1;
    }
    shape->type = PyUnicode_AsUTF8AndSize(type_value, &shape->type_length);
    if (shape->type == NULL) {
        return -1;
    }
    shape->type_value = type_value;
    shape->cls = type;
    shape->type_offset = shape->extra_offset = -1;
    shape->count = 0;
    shape->required = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fields); i++) {
        PyObject *name;
        int kind;
        PyObject *item = PyTuple_GET_ITEM(fields, i);
        if (!PyTuple_Check(item) || !PyArg_ParseTuple(item, "Ui:FlatDecoder field", &name, &kind)) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "a field is (name, kind)");
            }
            return -1;
        }
        Py_ssize_t offset = slot_offset(type, name);
        if (offset < 0) {
            return -1;
        }
        if (kind == KIND_TYPE || kind == KIND_EXTRA) {
            Py_ssize_t *slot = kind == KIND_TYPE ? &shape->type_offset : &shape->extra_offset;
            if (*slot >= 0) {
                PyErr_Format(PyExc_TypeError, "%s: two fields of kind %d", type->tp_name, kind);
                return -1;
            }
            *slot = offset;
            continue;
        }
        if (kind < 0 || kind >= KIND_TYPE || shape->count == MAX_FIELDS) {
            PyErr_Format(PyExc_TypeError, "%s: bad kind %d or more than %d fields",
                         type->tp_name, kind, MAX_FIELDS);
            return -1;
        }
        FlatField *field = &shape->fields[shape->count];
        field->name = PyUnicode_AsUTF8AndSize(name, &field->length);
        if (field->name == NULL) {
            return -1;
        }
        field->offset = offset;
        field->kind = kind;
        if (kind & REQUIRED) {
            shape->required |= (uint64_t)1 << shape->count;
        }
        shape->count++;
    }
    if (shape->type_offset < 0 || shape->extra_offset < 0) {
        PyErr_Format(PyExc_TypeError, "%s: a shape needs a type field and an extra field",
                     type->tp_name);
        return -1;
    }
    return 0;
}

static PyObject *
flat_decoder_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *shapes, *extra;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "FlatDecoder(shapes, extra) takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O!O:FlatDecoder", &PyTuple_Type, &shapes, &extra)) {
        return NULL;
    }
    FlatDecoder *self = PyObject_GC_New(FlatDecoder, type);
    if (self == NULL) {
        return NULL;
    }
    self->vectorcall = flat_decoder_call;
    self->shapes_given = Py_NewRef(shapes);
    self->extra = Py_NewRef(extra);
    self->count = PyTuple_GET_SIZE(shapes);
    self->shapes = PyMem_Calloc((size_t)(self->count ? self->count : 1), sizeof(FlatShape));
    if (self->shapes == NULL) {
        PyErr_NoMemory();
        goto failed;
    }
    for (Py_ssize_t i = 0; i < self->count; i++) {
        if (read_shape(&self->shapes[i], PyTuple_GET_ITEM(shapes, i)) < 0) {
            goto failed;
        }
    }
    PyObject_GC_Track(self);
    return (PyObject *)self;

failed:
    Py_DECREF(self->shapes_given);
    Py_DECREF(self->extra);
    PyMem_Free(self->shapes);
    PyObject_GC_Del(self);
    return NULL;
}

static int
flat_decoder_traverse(FlatDecoder *self, visitproc visit, void *arg)
{
    Py_VISIT(self->shapes_given);
    Py_VISIT(self->extra);
    return 0;
}

static int
flat_decoder_clear(FlatDecoder *self)
{
    self->count = 0; /* its shapes borrow from what is cleared */
    Py_CLEAR(self->shapes_given);
    Py_CLEAR(self->extra);
    return 0;
}

static void
flat_decoder_dealloc(FlatDecoder *self)
{
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->shapes_given);
    Py_CLEAR(self->extra);
    PyMem_Free(self->shapes);
    self->shapes = NULL;
    PyObject_GC_Del(self);
}

static PyObject *
flat_decoder_repr(FlatDecoder *self)
{
    return PyUnicode_FromFormat("<FlatDecoder of %zd event types>", self->count);
}

PyTypeObject FlatDecoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rxrealtime._native.FlatDecoder",
    .tp_basicsize = sizeof(FlatDecoder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(FlatDecoder, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = flat_decoder_new,
    .tp_dealloc = (destructor)flat_decoder_dealloc,
    .tp_traverse = (traverseproc)flat_decoder_traverse,
    .tp_clear = (inquiry)flat_decoder_clear,
    .tp_repr = (reprfunc)flat_decoder_repr,
    .tp_doc = "FlatDecoder(shapes, extra): decoder(frame) is the event of a flat JSON frame, "
              "or None (see rxrealtime/events/_flat.py).",
};
