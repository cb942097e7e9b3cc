/* rxrealtime._native_records: the record lines of plain frames, in C.
 *
 * encode_lines(frames, origin, secrets, limit, depth, dumps, fallback) -> list[bytes]
 *
 * The C twin of the fast path of rxrealtime.recording.FrameEncoder.lines (rxrealtime/recording/
 * _frames.py holds the rules and the pure-Python version; the tests hold the two byte-equal).
 * For each item ``(ts, direction, frame, valid)`` of ``frames`` it writes
 *
 *     {"t":<dumps(t)>,"ts":<dumps(ts)>,"dir":"<direction>","event":<frame>}\n
 *
 * around the frame's own text when every rule of the fast path provably holds, and calls
 * ``fallback(item, origin)`` (the pure-Python encoder of one item, or the caller's handler of
 * its other items; what it returns is stored as it is) for anything else: an item
 * that is not a 4-tuple, a ``ts`` that is not a finite float, a direction other than "in" or
 * "out", a frame that is not a ``str``, ``bytes`` or ``bytearray``, one the caller did not vouch
 * for (``valid`` is not ``True`` or ``1``: the Redis publisher's other flags), a ``str`` that cannot be UTF-8 (a lone surrogate), bytes that are not
 * UTF-8, or one that breaks a rule:
 *
 * * at least ``limit`` characters long and at least ``depth`` ``{``/``[`` in it;
 * * a line break (``\n``, ``\r``), or a backslash followed by ``u`` or ``/``;
 * * a secret of ``secrets`` occurs in it (a byte search of UTF-8 texts: UTF-8 is
 *   self-synchronising, so it finds exactly the character matches);
 * * its lower-cased text contains ``bearer``, ``authorization``, ``api_key``, ``api-key`` or
 *   ``apikey``. ``str.lower`` maps A-Z to a-z, and of every other code point only two lower to
 *   something holding an ASCII character: U+212A KELVIN SIGN to ``k`` (matched here as a ``k``)
 *   and U+0130 to ``i`` + U+0307 (which never matches: no keyword has an ``i`` last, and U+0307
 *   is in none);
 *
 * so that what it writes is what the pure-Python encoder writes. ``t`` is
 * ``round((ts - origin) * 1e6) / 1e6`` (Python's ``round``: half to even); both numbers are
 * written by ``dumps`` (orjson's), exactly as the pure-Python encoder writes them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "_micro_clock.h"

#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#define SCAN_SSE2 1
#endif

static const char HEAD[] = "{\"t\":";
static const char TS[] = ",\"ts\":";
static const char DIR_IN[] = ",\"dir\":\"in\",\"event\":";
static const char DIR_OUT[] = ",\"dir\":\"out\",\"event\":";
static const char TAIL[] = "}\n";

#define LEN(literal) ((Py_ssize_t)(sizeof(literal) - 1))

/* -- numbers ------------------------------------------------------------------------------ */

#define NUMBER_SIZE 32
#define MICROS_LIMIT 8589934592.0 /* 2**33: below it a double's spacing is under a microsecond */

typedef struct {
    const char *data;
    Py_ssize_t size;
    PyObject *owner; /* the bytes ``data`` lies in, when ``dumps`` wrote it */
} Number;

/* ``x`` as orjson writes it, when ``x`` is the double nearest to a whole number N of microseconds
 * in [0.001, 2**33): the decimal N / 10**6, trailing zeros dropped (one decimal kept). That is
 * the shortest text that reads back as ``x`` (the spacing of doubles there is under 10**-6, so
 * no other decimal with at most six decimals is as near, and a shorter one would be one of
 * those), which is what orjson (as Python's repr) writes, in plain notation in that range.
 * Returns the length written to ``out``, or 0 when ``x`` is not such a number. */
static Py_ssize_t
format_micros(double x, char *out)
{
    if (!(x >= 1e-3 && x < MICROS_LIMIT)) {
        return 0;
    }
    double n = nearbyint(x * 1e6);
    if (n / 1e6 != x) {
        return 0;
    }
    uint64_t micros = (uint64_t)n;
    uint64_t whole = micros / 1000000, fraction = micros % 1000000;
    char digits[24];
    int count = 0;
    do {
        digits[count++] = (char)('0' + whole % 10);
        whole /= 10;
    } while (whole);
    Py_ssize_t size = 0;
    while (count) {
        out[size++] = digits[--count];
    }
    out[size++] = '.';
    if (fraction == 0) {
        out[size++] = '0';
        return size;
    }
    int places = 6;
    while (fraction % 10 == 0) {
        fraction /= 10;
        places--;
    }
    for (int i = places - 1; i >= 0; i--) {
        out[size + i] = (char)('0' + fraction % 10);
        fraction /= 10;
    }
    return size + places;
}

/* ``value`` (its float object ``given``, or NULL to make one) written as ``dumps`` writes it,
 * into ``number``; -1 with an exception set on failure. */
static int
write_number(double value, PyObject *given, PyObject *dumps, Number *number)
{
    Py_ssize_t size = format_micros(value, (char *)number->data);
    if (size > 0) {
        number->size = size;
        return 0;
    }
    PyObject *x = given;
    if (x == NULL) {
        x = PyFloat_FromDouble(value);
        if (x == NULL) {
            return -1;
        }
    }
    else {
        Py_INCREF(x);
    }
    PyObject *text = PyObject_CallOneArg(dumps, x);
    Py_DECREF(x);
    if (text == NULL) {
        return -1;
    }
    if (!PyBytes_Check(text)) {
        Py_DECREF(text);
        PyErr_SetString(PyExc_TypeError, "dumps must return bytes");
        return -1;
    }
    number->owner = text;
    number->data = PyBytes_AS_STRING(text);
    number->size = PyBytes_GET_SIZE(text);
    return 0;
}

/* -- text ------------------------------------------------------------------------------------ */

typedef struct {
    const char *data;
    Py_ssize_t size;
} Text;

/* Whether ``keyword`` (lower-case ASCII) starts at ``p`` in the lower-cased text (see above). */
static int
keyword_at(const unsigned char *p, const unsigned char *end, const char *keyword)
{
    for (; *keyword; keyword++) {
        unsigned char k = (unsigned char)*keyword;
        if (p < end) {
            unsigned char c = *p;
            if ((k >= 'a' && k <= 'z') ? ((c | 0x20) == k) : (c == k)) {
                p++;
                continue;
            }
        }
        if (k == 'k' && end - p >= 3 && p[0] == 0xE2 && p[1] == 0x84 && p[2] == 0xAA) {
            p += 3; /* U+212A KELVIN SIGN, which lower-cases to "k" */
            continue;
        }
        return 0;
    }
    return 1;
}

static int
contains(const char *text, Py_ssize_t size, const char *needle, Py_ssize_t length)
{
    if (length == 0) {
        return 1;
    }
    if (size < length) {
        return 0;
    }
    const char *end = text + size - length;
    const char *p = text;
    while (p <= end) {
        p = memchr(p, needle[0], (size_t)(end - p) + 1);
        if (p == NULL) {
            return 0;
        }
        if (memcmp(p, needle, (size_t)length) == 0) {
            return 1;
        }
        p++;
    }
    return 0;
}

/* The bytes the scan of provably_plain stops at: line breaks, backslashes, and the letters every
 * credential keyword holds one of ("b" of bearer, "z" of authorization, "k" of the api keys,
 * either case, and the first byte of U+212A, which lower-cases to "k"). */
static unsigned char STOP[256];

static void
init_stop(void)
{
    const char *stops = "\n\r\\bBzZkK";
    for (const char *c = stops; *c; c++) {
        STOP[(unsigned char)*c] = 1;
    }
    STOP[0xE2] = 1;
}

/* Whether a credential keyword holds the letter at ``p`` (a "b", "z" or "k", or U+212A). */
static int
keyword_around(const unsigned char *data, const unsigned char *p, const unsigned char *end)
{
    unsigned char c = *p | 0x20;
    if (c == 'b') {
        return keyword_at(p, end, "bearer");
    }
    if (c == 'z') { /* "authori" before it: ASCII only (no other code point lowers to them) */
        return p - data >= 7 && keyword_at(p - 7, end, "authorization");
    }
    /* "k" or U+212A: "api_", "api-" or "api" before it */
    if (*p == 0xE2 && !(end - p >= 3 && p[1] == 0x84 && p[2] == 0xAA)) {
        return 0;
    }
    return (p - data >= 4 && (keyword_at(p - 4, end, "api_key") ||
                              keyword_at(p - 4, end, "api-key"))) ||
           (p - data >= 3 && keyword_at(p - 3, end, "apikey"));
}

/* Whether the stop byte at ``p`` breaks a rule (a line break, an escape, a credential keyword). */
static int
breaks_rule(const unsigned char *data, const unsigned char *p, const unsigned char *end)
{
    switch (*p) {
    case '\n':
    case '\r':
        return 1;
    case '\\':
        return p + 1 < end && (p[1] == 'u' || p[1] == '/');
    default:
        return keyword_around(data, p, end);
    }
}

/* Whether the UTF-8 text ``data`` (``chars`` characters) can be embedded as it is. */
static int
provably_plain(const unsigned char *data, Py_ssize_t size, Py_ssize_t chars, Py_ssize_t limit,
               Py_ssize_t depth, const Text *secrets, Py_ssize_t nsecrets)
{
    const unsigned char *end = data + size;
    const unsigned char *p = data;
#ifdef SCAN_SSE2
    /* 16 bytes at a time: the stop bytes are the line breaks, the backslash, 0xE2, and the
     * letters that are "b", "z" or "k" once bit 0x20 is set (those letters in either case) */
    const __m128i newline = _mm_set1_epi8('\n'), ret = _mm_set1_epi8('\r');
    const __m128i backslash = _mm_set1_epi8('\\'), kelvin = _mm_set1_epi8((char)0xE2);
    const __m128i lower = _mm_set1_epi8(0x20), b = _mm_set1_epi8('b');
    const __m128i z = _mm_set1_epi8('z'), k = _mm_set1_epi8('k');
    for (; end - p >= 16; p += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        __m128i l = _mm_or_si128(v, lower);
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, newline), _mm_cmpeq_epi8(v, ret)),
                                   _mm_or_si128(_mm_cmpeq_epi8(v, backslash),
                                                _mm_cmpeq_epi8(v, kelvin)));
        hit = _mm_or_si128(hit, _mm_or_si128(_mm_cmpeq_epi8(l, b),
                                             _mm_or_si128(_mm_cmpeq_epi8(l, z),
                                                          _mm_cmpeq_epi8(l, k))));
        unsigned int mask = (unsigned int)_mm_movemask_epi8(hit);
        while (mask) {
            if (breaks_rule(data, p + __builtin_ctz(mask), end)) {
                return 0;
            }
            mask &= mask - 1;
        }
    }
#endif
    for (; p < end; p++) {
        if (STOP[*p] && breaks_rule(data, p, end)) {
            return 0;
        }
    }
    if (chars >= limit) {
        Py_ssize_t nesting = 0;
        for (const unsigned char *p = data; p < end; p++) {
            nesting += (*p == '{') | (*p == '[');
        }
        if (nesting >= depth) {
            return 0;
        }
    }
    for (Py_ssize_t i = 0; i < nsecrets; i++) {
        if (contains((const char *)data, size, secrets[i].data, secrets[i].size)) {
            return 0;
        }
    }
    return 1;
}

static int
is_ascii(const unsigned char *data, Py_ssize_t size)
{
    Py_ssize_t i = 0;
    for (; i + 8 <= size; i += 8) {
        uint64_t word;
        memcpy(&word, data + i, 8);
        if (word & 0x8080808080808080ULL) {
            return 0;
        }
    }
    for (; i < size; i++) {
        if (data[i] & 0x80) {
            return 0;
        }
    }
    return 1;
}

/* The line of one item, or Py_None (borrowed, not increfed) when the fallback must decide;
 * NULL with an exception set on a real error. */
static PyObject *
plain_line(PyObject *item, double origin, Py_ssize_t limit, Py_ssize_t depth, PyObject *dumps,
           const Text *secrets, Py_ssize_t nsecrets)
{
    if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 4) {
        return Py_None;
    }
    PyObject *ts = PyTuple_GET_ITEM(item, 0);
    PyObject *direction = PyTuple_GET_ITEM(item, 1);
    PyObject *frame = PyTuple_GET_ITEM(item, 2);
    PyObject *valid = PyTuple_GET_ITEM(item, 3);
    if (!PyFloat_CheckExact(ts) || !PyUnicode_CheckExact(direction)) {
        return Py_None;
    }
    const char *dir;
    Py_ssize_t dir_size;
    if (PyUnicode_CompareWithASCIIString(direction, "in") == 0) {
        dir = DIR_IN;
        dir_size = LEN(DIR_IN);
    }
    else if (PyUnicode_CompareWithASCIIString(direction, "out") == 0) {
        dir = DIR_OUT;
        dir_size = LEN(DIR_OUT);
    }
    else {
        return Py_None;
    }
    int overflow = 0;
    if (valid != Py_True
        && !(PyLong_CheckExact(valid) && PyLong_AsLongAndOverflow(valid, &overflow) == 1)) {
        return Py_None; /* (a huge int sets overflow, never an exception) */
    }
    double stamp = PyFloat_AS_DOUBLE(ts);
    double micros = (stamp - origin) * 1e6;
    if (!isfinite(micros)) {
        return Py_None;
    }
    PyObject *encoded = NULL; /* the UTF-8 of a non-ASCII str */
    const unsigned char *data = NULL;
    Py_ssize_t size = 0, chars = 0;
    if (PyUnicode_CheckExact(frame)) {
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(frame) < 0) {
            PyErr_Clear();
            return Py_None;
        }
#endif
        chars = PyUnicode_GET_LENGTH(frame);
        if (PyUnicode_IS_COMPACT_ASCII(frame)) {
            data = (const unsigned char *)PyUnicode_DATA(frame);
            size = chars;
        }
        else {
            encoded = PyUnicode_AsUTF8String(frame);
            if (encoded == NULL) { /* a lone surrogate: the fallback decides */
                PyErr_Clear();
                return Py_None;
            }
            data = (const unsigned char *)PyBytes_AS_STRING(encoded);
            size = PyBytes_GET_SIZE(encoded);
        }
    }
    else if (PyBytes_CheckExact(frame) || PyByteArray_CheckExact(frame)) {
        if (PyBytes_CheckExact(frame)) {
            data = (const unsigned char *)PyBytes_AS_STRING(frame);
            size = PyBytes_GET_SIZE(frame);
        }
        else {
            data = (const unsigned char *)PyByteArray_AS_STRING(frame);
            size = PyByteArray_GET_SIZE(frame);
        }
        chars = size;
        if (!is_ascii(data, size)) { /* UTF-8 (else the fallback decides): count its characters */
            PyObject *text = PyUnicode_DecodeUTF8((const char *)data, size, "strict");
            if (text == NULL) {
                PyErr_Clear();
                return Py_None;
            }
            chars = PyUnicode_GET_LENGTH(text);
            Py_DECREF(text);
        }
    }
    else {
        return Py_None;
    }
    if (!provably_plain(data, size, chars, limit, depth, secrets, nsecrets)) {
        Py_XDECREF(encoded);
        return Py_None;
    }
    double rounded = round(micros); /* Python's round(): half to even */
    if (fabs(micros - rounded) == 0.5) {
        rounded = 2.0 * round(micros / 2.0);
    }
    if (rounded == 0.0) {
        rounded = 0.0; /* Python's round() gives an int: never -0.0 */
    }
    char t_buffer[NUMBER_SIZE], ts_buffer[NUMBER_SIZE];
    Number t_text = {t_buffer, 0, NULL}, ts_text = {ts_buffer, 0, NULL};
    PyObject *line = NULL;
    if (write_number(rounded / 1e6, NULL, dumps, &t_text) == 0 &&
        write_number(stamp, ts, dumps, &ts_text) == 0) {
        line = PyBytes_FromStringAndSize(NULL, LEN(HEAD) + t_text.size + LEN(TS) + ts_text.size +
                                                   dir_size + size + LEN(TAIL));
        if (line != NULL) {
            char *out = PyBytes_AS_STRING(line);
            memcpy(out, HEAD, LEN(HEAD));
            out += LEN(HEAD);
            memcpy(out, t_text.data, (size_t)t_text.size);
            out += t_text.size;
            memcpy(out, TS, LEN(TS));
            out += LEN(TS);
            memcpy(out, ts_text.data, (size_t)ts_text.size);
            out += ts_text.size;
            memcpy(out, dir, (size_t)dir_size);
            out += dir_size;
            memcpy(out, data, (size_t)size);
            out += size;
            memcpy(out, TAIL, LEN(TAIL));
        }
    }
    Py_XDECREF(t_text.owner);
    Py_XDECREF(ts_text.owner);
    Py_XDECREF(encoded);
    return line;
}

static PyObject *
encode_lines(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError,
                        "encode_lines(frames, origin, secrets, limit, depth, dumps, fallback)");
        return NULL;
    }
    PyObject *origin_obj = args[1], *secrets_obj = args[2], *dumps = args[5];
    PyObject *fallback = args[6];
    double origin = PyFloat_AsDouble(origin_obj);
    if (origin == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t limit = PyLong_AsSsize_t(args[3]);
    if (limit == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t depth = PyLong_AsSsize_t(args[4]);
    if (depth == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (!PyTuple_Check(secrets_obj)) {
        PyErr_SetString(PyExc_TypeError, "secrets must be a tuple of str");
        return NULL;
    }
    if (!PyCallable_Check(dumps) || !PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "dumps and fallback must be callable");
        return NULL;
    }
    Py_ssize_t nsecrets = PyTuple_GET_SIZE(secrets_obj);
    Text *secrets = PyMem_Malloc(sizeof(Text) * (size_t)(nsecrets ? nsecrets : 1));
    if (secrets == NULL) {
        return PyErr_NoMemory();
    }
    int native = 1; /* every secret has a UTF-8 form (else the fallback decides everything) */
    for (Py_ssize_t i = 0; i < nsecrets; i++) {
        PyObject *secret = PyTuple_GET_ITEM(secrets_obj, i);
        if (!PyUnicode_Check(secret)) {
            PyMem_Free(secrets);
            PyErr_SetString(PyExc_TypeError, "secrets must be a tuple of str");
            return NULL;
        }
        secrets[i].data = PyUnicode_AsUTF8AndSize(secret, &secrets[i].size);
        if (secrets[i].data == NULL) {
            PyErr_Clear();
            native = 0;
        }
    }
    /* a tuple of its own: the fallback (Python code) cannot change what is being encoded */
    PyObject *frames = PySequence_Tuple(args[0]);
    if (frames == NULL) {
        PyMem_Free(secrets);
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(frames);
    PyObject *out = PyList_New(count);
    for (Py_ssize_t i = 0; out != NULL && i < count; i++) {
        PyObject *item = PyTuple_GET_ITEM(frames, i);
        PyObject *line = Py_None;
        if (native) {
            line = plain_line(item, origin, limit, depth, dumps, secrets, nsecrets);
        }
        if (line == Py_None) {
            PyObject *call[2] = {item, origin_obj};
            line = PyObject_Vectorcall(fallback, call, 2, NULL);
        }
        if (line == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, line);
    }
    Py_DECREF(frames);
    PyMem_Free(secrets);
    return out;
}

/* The time (the system clock, as time.time()) rounded to the microsecond: the double nearest to a
 * whole number of microseconds (what format_micros writes without calling dumps). */
static PyObject *
now(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    double seconds;
    if (micro_clock(&seconds) < 0) {
        return NULL;
    }
    return PyFloat_FromDouble(seconds);
}

static PyMethodDef methods[] = {
    {"now", now, METH_NOARGS,
     "now() -> float\n\nThe system clock's time rounded to the microsecond (as "
     "(time.time_ns() + 500) // 1000 / 1e6)."},
    {"encode_lines", (PyCFunction)(void (*)(void))encode_lines, METH_FASTCALL,
     "encode_lines(frames, origin, secrets, limit, depth, dumps, fallback) -> list[bytes]\n\n"
     "The record line of each frame (see rxrealtime.recording.FrameEncoder)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "rxrealtime._native_records",
    "The record lines of plain frames, in C (see rxrealtime.recording.FrameEncoder).",
    0,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__native_records(void)
{
    init_stop();
    return PyModule_Create(&module);
}
