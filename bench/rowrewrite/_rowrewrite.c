/* Bench-only prototype of a compiled DataRow rewriter (issue 6, "Measure"); never shipped in src/.
 *
 * rewrite(message, width, steps, miss, same) -> (out, pattern) does for one whole DataRow
 * message what veil.pipeline.masking.PlannedRowMasker._rewrite does in Python:
 * validate and split the fields, look each masked field up in its dict cache (calling
 * miss(step, value) on a miss), splice the untouched bytes with the masked values and fix
 * the lengths.  steps is a tuple of (bit, index, cache dict, masker) tuples, exactly the
 * CompiledPlan's; `same` is the "left as is" sentinel; any other cached or returned value
 * is the wire form (int32 length + bytes, or the NULL length word).  Errors raise
 * ValueError (malformed row) or whatever miss() raised: the caller fails closed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_WIDTH 1664 /* PostgreSQL's column limit */

static int32_t be32(const unsigned char *p) {
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3]);
}

static void put32(unsigned char *p, int32_t v) {
    uint32_t u = (uint32_t)v;
    p[0] = (unsigned char)(u >> 24); p[1] = (unsigned char)(u >> 16);
    p[2] = (unsigned char)(u >> 8); p[3] = (unsigned char)u;
}

typedef struct { Py_ssize_t pos; int32_t size; PyObject *out; } Change;

static PyObject *rewrite(PyObject *self, PyObject *args) {
    PyObject *message, *steps, *miss, *same;
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "SnO!OO", &message, &width, &PyTuple_Type, &steps, &miss, &same))
        return NULL;
    const unsigned char *buf = (const unsigned char *)PyBytes_AS_STRING(message);
    Py_ssize_t end = PyBytes_GET_SIZE(message);
    if (end < 7) { PyErr_SetString(PyExc_ValueError, "DataRow too short"); return NULL; }
    Py_ssize_t count = ((Py_ssize_t)buf[5] << 8) | buf[6];
    if (count != width || width > MAX_WIDTH) {
        PyErr_SetString(PyExc_ValueError, "row width differs from the result shape"); return NULL;
    }
    Py_ssize_t starts[MAX_WIDTH];
    Py_ssize_t pos = 7;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (pos + 4 > end) { PyErr_SetString(PyExc_ValueError, "DataRow truncated"); return NULL; }
        starts[i] = pos;
        int32_t size = be32(buf + pos);
        if (size < -1) { PyErr_SetString(PyExc_ValueError, "invalid DataRow value length"); return NULL; }
        pos += 4 + (size > 0 ? size : 0);
    }
    if (pos != end) { PyErr_SetString(PyExc_ValueError, "DataRow length mismatch"); return NULL; }

    Py_ssize_t nsteps = PyTuple_GET_SIZE(steps);
    Change changes[64];
    Py_ssize_t nchanged = 0, delta = 0;
    long long pattern = 0;
    if (nsteps > 64) { PyErr_SetString(PyExc_ValueError, "too many masked columns"); return NULL; }
    for (Py_ssize_t s = 0; s < nsteps; s++) {
        PyObject *step = PyTuple_GET_ITEM(steps, s);
        long long bit = PyLong_AsLongLong(PyTuple_GET_ITEM(step, 0));
        Py_ssize_t index = PyLong_AsSsize_t(PyTuple_GET_ITEM(step, 1));
        PyObject *cache = PyTuple_GET_ITEM(step, 2);
        if (PyErr_Occurred()) goto fail;
        if (index < 0 || index >= count) { PyErr_SetString(PyExc_ValueError, "bad step index"); goto fail; }
        Py_ssize_t p = starts[index];
        int32_t size = be32(buf + p);
        if (size < 0) continue; /* NULL stays NULL */
        PyObject *raw = PyBytes_FromStringAndSize((const char *)buf + p + 4, size);
        if (raw == NULL) goto fail;
        PyObject *masked = PyDict_GetItemWithError(cache, raw); /* borrowed */
        if (masked != NULL) {
            Py_INCREF(masked);
        } else if (PyErr_Occurred()) {
            Py_DECREF(raw); goto fail;
        } else {
            masked = PyObject_CallFunctionObjArgs(miss, step, raw, NULL);
            if (masked == NULL) { Py_DECREF(raw); goto fail; }
        }
        Py_DECREF(raw);
        if (masked == same) { Py_DECREF(masked); continue; }
        if (!PyBytes_Check(masked) || PyBytes_GET_SIZE(masked) < 4) {
            Py_DECREF(masked); PyErr_SetString(PyExc_TypeError, "masker returned no wire value"); goto fail;
        }
        pattern |= bit;
        changes[nchanged].pos = p;
        changes[nchanged].size = size;
        changes[nchanged].out = masked; /* owned */
        nchanged++;
        delta += PyBytes_GET_SIZE(masked) - 4 - size;
    }
    if (nchanged == 0) return Py_BuildValue("(Oi)", message, 0);

    /* steps follow the column order, so the changes are sorted by position */
    PyObject *out = PyBytes_FromStringAndSize(NULL, end + delta);
    if (out == NULL) goto fail;
    unsigned char *o = (unsigned char *)PyBytes_AS_STRING(out);
    o[0] = 'D';
    put32(o + 1, (int32_t)(end - 1 + delta));
    o[5] = buf[5]; o[6] = buf[6];
    Py_ssize_t last = 7, w = 7;
    for (Py_ssize_t c = 0; c < nchanged; c++) {
        Py_ssize_t p = changes[c].pos;
        if (p < last) { Py_DECREF(out); PyErr_SetString(PyExc_ValueError, "steps out of column order"); goto fail_from; }
        memcpy(o + w, buf + last, p - last); w += p - last;
        PyObject *m = changes[c].out;
        Py_ssize_t n = PyBytes_GET_SIZE(m);
        memcpy(o + w, PyBytes_AS_STRING(m), n); w += n;
        last = p + 4 + changes[c].size;
        Py_DECREF(m);
        changes[c].out = NULL;
    }
    memcpy(o + w, buf + last, end - last);
    return Py_BuildValue("(NL)", out, pattern);

fail_from:
fail:
    for (Py_ssize_t c = 0; c < nchanged; c++) Py_XDECREF(changes[c].out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"rewrite", rewrite, METH_VARARGS, "Mask one DataRow message: (message, width, steps, miss, same)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rowrewrite", NULL, -1, methods};

PyMODINIT_FUNC PyInit__rowrewrite(void) { return PyModule_Create(&module); }
