// Included by the programs install.sh links against libmesos (launcher.cpp, containerizer.cpp).
#pragma once
#include <cstdio>
#include <cstdlib>

// The library is a Python 2.7 extension module too: its module code references these CPython
// symbols, which must be defined for it to load. That code is never run (nothing imports the
// module); if it ever were, fail loudly.
#define PY_FUNCTION(name)                                                          \
  extern "C" void name() {                                                         \
    fprintf(stderr, "[tars libmesos program] unexpected call of Python's %s\n", #name); \
    abort();                                                                       \
  }
PY_FUNCTION(PyArg_ParseTuple) PY_FUNCTION(PyDict_GetItemString) PY_FUNCTION(PyErr_Format)
PY_FUNCTION(PyErr_Occurred) PY_FUNCTION(PyErr_Print) PY_FUNCTION(PyEval_InitThreads)
PY_FUNCTION(PyEval_RestoreThread) PY_FUNCTION(PyEval_SaveThread) PY_FUNCTION(PyGILState_Ensure)
PY_FUNCTION(PyGILState_Release) PY_FUNCTION(PyImport_ImportModule) PY_FUNCTION(PyInt_FromLong)
PY_FUNCTION(PyIter_Next) PY_FUNCTION(PyList_GetItem) PY_FUNCTION(PyList_New)
PY_FUNCTION(PyList_SetItem) PY_FUNCTION(PyList_Size) PY_FUNCTION(PyModule_AddObject)
PY_FUNCTION(PyModule_GetDict) PY_FUNCTION(PyObject_CallMethod) PY_FUNCTION(PyObject_GetIter)
PY_FUNCTION(PyString_AsStringAndSize) PY_FUNCTION(PyType_Ready) PY_FUNCTION(Py_InitModule4_64)
// Data: exception type pointers and the None object. Only their addresses are taken.
extern "C" {
void* PyExc_Exception = nullptr;
void* PyExc_TypeError = nullptr;
alignas(16) char _Py_NoneStruct[64];
}
