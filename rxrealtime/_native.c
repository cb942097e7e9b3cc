/* rxrealtime._native: two helpers in C, for the decoder's hot path (FlatDecoder: _flat.c).
 *
 * SlotBuilder(cls, names) is a callable that makes an instance of the slotted class ``cls`` from
 * one value per slot in ``names`` (given by position, in that order), storing each value in its
 * slot directly: no ``__new__``, no ``__init__``, no ``__setattr__``. That is what a frozen,
 * slotted attrs class without converters or validators does in its ``__init__``, minus the
 * generic attribute stores its frozen ``__setattr__`` forces. rxrealtime/_construct.py decides
 * when it is used and has the pure-Python equivalent; the tests hold the two equal.
 *
 * Safety: the constructor checks once that every name is a writable object slot
 * (T_OBJECT_EX) of ``cls`` or a base, inside the instance, and that ``cls`` has no __dict__ and
 * no variable part; a call checks its argument count and takes a new reference to each value.
 * Slots not named stay empty (NULL), exactly as after ``object.__new__``.
 */
#include "_native.h"
#include <structmember.h>

typedef struct {
    PyObject_VAR_HEAD
    PyTypeObject *cls;
    vectorcallfunc vectorcall;
    Py_ssize_t offsets[1]; /* Py_SIZE(self) of them: each slot's offset in an instance */
} SlotBuilder;

static PyTypeObject SlotBuilderType;

static PyObject *
slot_builder_call(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    SlotBuilder *self = (SlotBuilder *)callable;
    Py_ssize_t given = PyVectorcall_NARGS(nargsf);
    Py_ssize_t wanted = Py_SIZE(self);
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0) {
        PyErr_Format(PyExc_TypeError, "the builder of %s takes its values by position only",
                     self->cls->tp_name);
        return NULL;
    }
    if (given != wanted) {
        PyErr_Format(PyExc_TypeError, "the builder of %s takes %zd values, not %zd",
                     self->cls->tp_name, wanted, given);
        return NULL;
    }
    PyObject *instance = self->cls->tp_alloc(self->cls, 0);
    if (instance == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < wanted; i++) {
        PyObject *value = args[i];
        Py_INCREF(value);
        *(PyObject **)((char *)instance + self->offsets[i]) = value;
    }
    return instance;
}

static int
slot_builder_traverse(SlotBuilder *self, visitproc visit, void *arg)
{
    Py_VISIT(self->cls);
    return 0;
}

static int
slot_builder_clear(SlotBuilder *self)
{
    Py_CLEAR(self->cls);
    return 0;
}

static void
slot_builder_dealloc(SlotBuilder *self)
{
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->cls);
    PyObject_GC_Del(self);
}

/* The offset of slot ``name`` of ``cls``, or -1 with an exception set. */
Py_ssize_t
slot_offset(PyTypeObject *cls, PyObject *name)
{
    PyObject *descriptor = PyObject_GetAttr((PyObject *)cls, name);
    if (descriptor == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return -1;
        }
        PyErr_Clear();
    }
    Py_ssize_t offset = -1;
    if (descriptor != NULL && Py_IS_TYPE(descriptor, &PyMemberDescr_Type)
        && PyType_IsSubtype(cls, PyDescr_TYPE(descriptor))) {
        PyMemberDef *member = ((PyMemberDescrObject *)descriptor)->d_member;
        if (member->type == T_OBJECT_EX && !(member->flags & READONLY)
            && member->offset >= (Py_ssize_t)sizeof(PyObject)
            && member->offset + (Py_ssize_t)sizeof(PyObject *) <= cls->tp_basicsize) {
            offset = member->offset;
        }
    }
    Py_XDECREF(descriptor);
    if (offset < 0) {
        PyErr_Format(PyExc_TypeError, "%R is not a writable object slot of %s", name,
                     cls->tp_name);
    }
    return offset;
}

static PyObject *
slot_builder_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *cls_object, *names;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "SlotBuilder(cls, names) takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O!O!:SlotBuilder", &PyType_Type, &cls_object, &PyTuple_Type,
                          &names)) {
        return NULL;
    }
    PyTypeObject *cls = (PyTypeObject *)cls_object;
    if (cls->tp_itemsize != 0 || cls->tp_dictoffset != 0 || cls->tp_alloc == NULL) {
        PyErr_Format(PyExc_TypeError, "%s must be a class with __slots__ and no __dict__",
                     cls->tp_name);
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(names);
    SlotBuilder *self = PyObject_GC_NewVar(SlotBuilder, type, count);
    if (self == NULL) {
        return NULL;
    }
    self->cls = NULL;
    self->vectorcall = slot_builder_call;
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t offset = slot_offset(cls, PyTuple_GET_ITEM(names, i));
        if (offset < 0) {
            PyObject_GC_Del(self);
            return NULL;
        }
        self->offsets[i] = offset;
    }
    Py_INCREF(cls);
    self->cls = cls;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static PyObject *
slot_builder_repr(SlotBuilder *self)
{
    return PyUnicode_FromFormat("<SlotBuilder of %s, %zd slots>", self->cls->tp_name,
                                Py_SIZE(self));
}

static PyTypeObject SlotBuilderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rxrealtime._native.SlotBuilder",
    .tp_basicsize = offsetof(SlotBuilder, offsets),
    .tp_itemsize = sizeof(Py_ssize_t),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(SlotBuilder, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = slot_builder_new,
    .tp_dealloc = (destructor)slot_builder_dealloc,
    .tp_traverse = (traverseproc)slot_builder_traverse,
    .tp_clear = (inquiry)slot_builder_clear,
    .tp_repr = (reprfunc)slot_builder_repr,
    .tp_doc = "SlotBuilder(cls, names): builder(*values) makes a cls instance, one value per "
              "slot in names, stored directly (no __new__, __init__ or __setattr__).",
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "rxrealtime._native",
    .m_doc = "The decoder's helpers in C (see rxrealtime/_construct.py, rxrealtime/events/_flat.py).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__native(void)
{
    if (PyType_Ready(&SlotBuilderType) < 0 || PyType_Ready(&FlatDecoderType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&native_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "SlotBuilder", (PyObject *)&SlotBuilderType) < 0
        || PyModule_AddObjectRef(module, "FlatDecoder", (PyObject *)&FlatDecoderType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
