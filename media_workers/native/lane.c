/*
 * media_workers._lane: the per-copy forwarding path of one subscriber slot, in C.
 *
 * A Lane does for one consumer what media_workers/lane.py's PyLane does with the Python classes
 * it is built from (OutgoingNumbering, PacketCache, HeaderWriter, TransportWriter): gap-free
 * outgoing numbers, the retransmission history, the rewritten RTP header, SRTP protection and
 * the send. The two implement the same interface and the tests run both; this one exists because
 * a room of 100 spends most of its time here, 100 times per received packet.
 *
 * Protection uses the very SRTP session aiortc created for the subscriber's DTLS transport
 * (pylibsrtp's srtp_t and its srtp_protect, whose addresses the Python side passes in), so keys
 * and rollover counters are shared with aiortc. The send goes to the nominated ICE pair's socket
 * (a dup of its descriptor) and address. Before every send the lane checks, as TransportWriter
 * does, that DTLS is connected, that the session and the nominated pair are the ones it resolved;
 * otherwise it resolves again (TransportWriter.native_output) or hands the built packet to
 * TransportWriter.send_rtp (a TURN-relayed pair, or no native binding at all).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SEQ_MOD 65536
#define HALF_SEQ 32768
#define MAX_LATE 1000
#define BUFFER_SIZE 2048
/* Room left after the packet for the SRTP trailer (auth tag, MKI), as libsrtp requires. */
#define TRAILER_ROOM 160
#define MAX_EXTENSION 64

typedef int (*protect_fn)(void *ctx, void *rtp, int *len);
static protect_fn srtp_protect_fn = NULL;

static PyObject *str_state, *str_tx_srtp, *str_send_rtp, *str_native_output;
static PyObject *str_padding, *str_marker, *str_payload, *str_audio_level, *str_sequence, *str_timestamp;
static PyObject *component_one;

typedef struct {
    PyObject_HEAD
    /* numbering (media_workers/sequencing.py OutgoingNumbering) */
    uint32_t ssrc;
    uint32_t clock_rate;
    int has_source;
    long long source;
    uint16_t next_seq;
    uint32_t next_ts;
    uint16_t seq_offset;
    uint32_t ts_offset;
    uint16_t epoch_start;
    uint16_t highest;
    int has_last_out;
    uint16_t last_out_seq;
    uint32_t last_out_ts;
    double last_out_time;
    /* header (media_workers/rtp_rewrite.py HeaderWriter) */
    int two_byte;
    unsigned char mid_element[20];
    Py_ssize_t mid_element_len;
    int abs_id;
    int level_id;
    /* history (media_workers/packet_cache.py PacketCache) */
    Py_ssize_t history_mask;
    int32_t *history_seq;
    uint32_t *history_ts;
    uint8_t *history_pt;
    PyObject **history_packet;
    /* output */
    PyObject *writer;
    PyObject *dtls;
    PyObject *nominated;
    PyObject *connected;
    PyObject *cached_pair;
    PyObject *cached_session;
    int native; /* 1: protect + sendto here; 0: TransportWriter.send_rtp */
    int fd;
    void *srtp;
    struct sockaddr_storage address;
    socklen_t address_len;
    /* counters */
    unsigned long long packets_out;
    unsigned long long octets_out;
    unsigned long long bytes_out;
    unsigned long long native_sends;
    unsigned long long errors;
    uint32_t last_timestamp;
    double last_time;
} Lane;

static int seq_delta(int a, int b) { return ((a - b + HALF_SEQ + 2 * SEQ_MOD) % SEQ_MOD) - HALF_SEQ; }

/* ---- numbering ------------------------------------------------------------------------- */

static void lane_rebase(Lane *self, long long source, uint16_t sequence, uint32_t timestamp, double now) {
    if (self->has_last_out) {
        self->next_seq = (uint16_t)(self->last_out_seq + 1);
        double elapsed = nearbyint((now - self->last_out_time) * (double)self->clock_rate);
        if (!(elapsed >= 1.0)) elapsed = 1.0;
        self->next_ts = self->last_out_ts + (uint32_t)(uint64_t)fmod(elapsed, 4294967296.0);
    }
    self->has_source = 1;
    self->source = source;
    self->seq_offset = (uint16_t)(self->next_seq - sequence);
    self->ts_offset = self->next_ts - timestamp;
    self->epoch_start = sequence;
    self->highest = sequence;
}

/* 1 and the outgoing numbers, or 0 when the packet must not be forwarded. */
static int lane_rewrite(Lane *self, long long source, uint16_t sequence, uint32_t timestamp, double now,
                        uint16_t *out_seq, uint32_t *out_ts) {
    if (!self->has_source || source != self->source) {
        lane_rebase(self, source, sequence, timestamp, now);
    } else {
        int delta = seq_delta(sequence, self->highest);
        if (delta > 0) {
            self->highest = sequence;
        } else if (seq_delta(sequence, self->epoch_start) < 0 || -delta > MAX_LATE) {
            return 0;
        }
    }
    *out_seq = (uint16_t)(sequence + self->seq_offset);
    *out_ts = timestamp + self->ts_offset;
    if (!self->has_last_out || seq_delta(*out_seq, self->last_out_seq) > 0) {
        self->has_last_out = 1;
        self->last_out_seq = *out_seq;
        self->last_out_ts = *out_ts;
        self->last_out_time = now;
    }
    return 1;
}

/* ---- header ---------------------------------------------------------------------------- */

static Py_ssize_t put_element(const Lane *self, unsigned char *out, int id, const unsigned char *value, Py_ssize_t len) {
    if (self->two_byte) {
        out[0] = (unsigned char)id;
        out[1] = (unsigned char)len;
        memcpy(out + 2, value, (size_t)len);
        return 2 + len;
    }
    out[0] = (unsigned char)((id << 4) | (len - 1));
    memcpy(out + 1, value, (size_t)len);
    return 1 + len;
}

/* The packet's fields the header needs; -1 with an exception set when it is not an InboundPacket. */
typedef struct {
    int padding;
    int marker;
    int audio_level; /* -1: none */
    const char *payload;
    Py_ssize_t payload_len;
    PyObject *payload_obj; /* new reference */
} PacketView;

static int packet_view(PyObject *packet, PacketView *view) {
    PyObject *value;
    view->payload_obj = NULL;
    if (!(value = PyObject_GetAttr(packet, str_padding))) return -1;
    view->padding = PyObject_IsTrue(value);
    Py_DECREF(value);
    if (!(value = PyObject_GetAttr(packet, str_marker))) return -1;
    view->marker = PyObject_IsTrue(value);
    Py_DECREF(value);
    if (!(value = PyObject_GetAttr(packet, str_audio_level))) return -1;
    view->audio_level = value == Py_None ? -1 : (int)(PyLong_AsLong(value) & 0x7F);
    Py_DECREF(value);
    if (PyErr_Occurred()) return -1;
    if (!(value = PyObject_GetAttr(packet, str_payload))) return -1;
    if (!PyBytes_Check(value)) {
        Py_DECREF(value);
        PyErr_SetString(PyExc_TypeError, "packet.payload must be bytes");
        return -1;
    }
    view->payload_obj = value;
    view->payload = PyBytes_AS_STRING(value);
    view->payload_len = PyBytes_GET_SIZE(value);
    return 0;
}

/* Writes the whole RTP packet into `out`; its length, or -1 when it does not fit. */
static Py_ssize_t build_packet(const Lane *self, const PacketView *view, int payload_type, uint16_t sequence,
                               uint32_t timestamp, const unsigned char *abs_time, unsigned char *out) {
    unsigned char body[MAX_EXTENSION];
    Py_ssize_t body_len = 0;
    memcpy(body, self->mid_element, (size_t)self->mid_element_len);
    body_len = self->mid_element_len;
    if (abs_time && self->abs_id) body_len += put_element(self, body + body_len, self->abs_id, abs_time, 3);
    if (view->audio_level >= 0 && self->level_id) {
        unsigned char level = (unsigned char)view->audio_level;
        body_len += put_element(self, body + body_len, self->level_id, &level, 1);
    }
    Py_ssize_t pad = (4 - body_len % 4) % 4;
    Py_ssize_t ext_len = body_len ? 4 + body_len + pad : 0;
    Py_ssize_t total = 12 + ext_len + view->payload_len;
    if (total > BUFFER_SIZE - TRAILER_ROOM) return -1;
    out[0] = (unsigned char)(0x80 | (ext_len ? 0x10 : 0) | (view->padding ? 0x20 : 0));
    out[1] = (unsigned char)((payload_type & 0x7F) | (view->marker ? 0x80 : 0));
    out[2] = (unsigned char)(sequence >> 8);
    out[3] = (unsigned char)sequence;
    out[4] = (unsigned char)(timestamp >> 24);
    out[5] = (unsigned char)(timestamp >> 16);
    out[6] = (unsigned char)(timestamp >> 8);
    out[7] = (unsigned char)timestamp;
    out[8] = (unsigned char)(self->ssrc >> 24);
    out[9] = (unsigned char)(self->ssrc >> 16);
    out[10] = (unsigned char)(self->ssrc >> 8);
    out[11] = (unsigned char)self->ssrc;
    unsigned char *p = out + 12;
    if (ext_len) {
        unsigned int profile = self->two_byte ? 0x1000 : 0xBEDE;
        unsigned int words = (unsigned int)((body_len + pad) >> 2);
        p[0] = (unsigned char)(profile >> 8);
        p[1] = (unsigned char)profile;
        p[2] = (unsigned char)(words >> 8);
        p[3] = (unsigned char)words;
        memcpy(p + 4, body, (size_t)body_len);
        memset(p + 4 + body_len, 0, (size_t)pad);
        p += ext_len;
    }
    memcpy(p, view->payload, (size_t)view->payload_len);
    return total;
}

/* ---- history --------------------------------------------------------------------------- */

static void history_put(Lane *self, uint16_t sequence, uint32_t timestamp, int payload_type, PyObject *packet) {
    Py_ssize_t index = sequence & self->history_mask;
    self->history_seq[index] = sequence;
    self->history_ts[index] = timestamp;
    self->history_pt[index] = (uint8_t)payload_type;
    Py_INCREF(packet);
    Py_XSETREF(self->history_packet[index], packet);
}

static Py_ssize_t history_index(const Lane *self, long sequence) {
    if (sequence < 0 || sequence >= SEQ_MOD) return -1;
    Py_ssize_t index = sequence & self->history_mask;
    if (self->history_seq[index] != sequence || !self->history_packet[index]) return -1;
    return index;
}

/* ---- output ---------------------------------------------------------------------------- */

static void forget_output(Lane *self) {
    Py_CLEAR(self->cached_pair);
    Py_CLEAR(self->cached_session);
    if (self->fd >= 0) close(self->fd);
    self->fd = -1;
    self->native = 0;
    self->srtp = NULL;
}

/* Resolve the output for (pair, session): 0 done (native or not), -1 error set. */
static int resolve_output(Lane *self, PyObject *pair, PyObject *session) {
    forget_output(self);
    PyObject *found = PyObject_CallMethodObjArgs(self->writer, str_native_output, pair, session, NULL);
    if (!found) return -1;
    Py_INCREF(pair);
    self->cached_pair = pair;
    Py_INCREF(session);
    self->cached_session = session;
    if (found == Py_None || !srtp_protect_fn) {
        Py_DECREF(found);
        return 0;
    }
    int fd = -1, port = 0;
    const char *host = NULL;
    unsigned long long srtp = 0;
    if (!PyArg_ParseTuple(found, "isiK", &fd, &host, &port, &srtp)) {
        Py_DECREF(found);
        return -1;
    }
    memset(&self->address, 0, sizeof(self->address));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&self->address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&self->address;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        self->address_len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        self->address_len = sizeof(*v6);
    } else {
        Py_DECREF(found);
        return 0; /* not a numeric address: leave it to TransportWriter */
    }
    Py_DECREF(found);
    /* Our own descriptor for the socket: when aiortc closes its transport, ours still names the
       same socket (never another one that got the number), until the checks below drop it. */
    self->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (self->fd < 0) return 0;
    self->srtp = (void *)(uintptr_t)srtp;
    self->native = self->srtp != NULL;
    return 0;
}

/* Sends one built packet; bytes sent (0: not connected or dropped), -1 with an error set. */
static Py_ssize_t lane_send(Lane *self, unsigned char *buffer, Py_ssize_t len) {
    if (self->dtls) {
        PyObject *state = PyObject_GetAttr(self->dtls, str_state);
        if (!state) return -1;
        int connected = state == self->connected;
        Py_DECREF(state);
        if (!connected) return 0;
        PyObject *session = PyObject_GetAttr(self->dtls, str_tx_srtp);
        if (!session) return -1;
        PyObject *pair = PyDict_GetItemWithError(self->nominated, component_one); /* borrowed */
        if (session == Py_None || !pair) {
            Py_DECREF(session);
            return PyErr_Occurred() ? -1 : 0;
        }
        if (pair != self->cached_pair || session != self->cached_session) {
            if (resolve_output(self, pair, session) < 0) {
                /* This subscriber only: reported, counted, tried again with the next packet. */
                PyErr_WriteUnraisable(self->writer);
                forget_output(self);
                Py_DECREF(session);
                self->errors++;
                return 0;
            }
        }
        Py_DECREF(session);
        if (self->native) {
            int length = (int)len;
            if (srtp_protect_fn(self->srtp, buffer, &length) != 0) {
                self->errors++;
                return 0;
            }
            ssize_t sent = sendto(self->fd, buffer, (size_t)length, MSG_DONTWAIT,
                                  (struct sockaddr *)&self->address, self->address_len);
            if (sent < 0) {
                self->errors++;
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS && errno != EINTR) forget_output(self);
                return 0;
            }
            self->native_sends++;
            return length;
        }
    }
    PyObject *data = PyBytes_FromStringAndSize((const char *)buffer, len);
    if (!data) return -1;
    PyObject *result = PyObject_CallMethodOneArg(self->writer, str_send_rtp, data);
    Py_DECREF(data);
    if (!result) return -1;
    Py_ssize_t sent = PyLong_AsSsize_t(result);
    Py_DECREF(result);
    return sent;
}

/* ---- Python interface ------------------------------------------------------------------ */

static int check_ready(Lane *self) {
    if (self->writer && self->history_packet) return 0;
    PyErr_SetString(PyExc_RuntimeError, "Lane is not initialised");
    return -1;
}

static int Lane_init(Lane *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"ssrc", "clock_rate", "first_sequence", "first_timestamp", "mid_element", "two_byte",
                               "abs_send_time_id", "audio_level_id", "history_size", "writer", NULL};
    unsigned long ssrc = 0, clock_rate = 0, first_ts = 0;
    int first_seq = 0, two_byte = 0, abs_id = 0, level_id = 0;
    Py_ssize_t history_size = 0;
    Py_buffer mid = {0};
    PyObject *writer = NULL;
    if (self->writer) {
        PyErr_SetString(PyExc_RuntimeError, "Lane is already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "kkik$y*piinO", keywords, &ssrc, &clock_rate, &first_seq, &first_ts,
                                     &mid, &two_byte, &abs_id, &level_id, &history_size, &writer))
        return -1;
    int bad = mid.len > (Py_ssize_t)sizeof(self->mid_element) || ssrc > 0xFFFFFFFFUL || clock_rate == 0 ||
              first_seq < 0 || first_seq >= SEQ_MOD || first_ts > 0xFFFFFFFFUL || abs_id < 0 || abs_id > 255 ||
              level_id < 0 || level_id > 255 || history_size <= 0 || (history_size & (history_size - 1));
    if (!bad) memcpy(self->mid_element, mid.buf, (size_t)mid.len);
    self->mid_element_len = mid.len;
    PyBuffer_Release(&mid);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "Lane: a value is out of range (history_size must be a power of two)");
        return -1;
    }
    self->ssrc = (uint32_t)ssrc;
    self->clock_rate = (uint32_t)clock_rate;
    self->next_seq = (uint16_t)first_seq;
    self->next_ts = (uint32_t)first_ts;
    self->two_byte = two_byte;
    self->abs_id = abs_id;
    self->level_id = level_id;
    self->history_mask = history_size - 1;
    self->history_seq = PyMem_Calloc((size_t)history_size, sizeof(int32_t));
    self->history_ts = PyMem_Calloc((size_t)history_size, sizeof(uint32_t));
    self->history_pt = PyMem_Calloc((size_t)history_size, sizeof(uint8_t));
    self->history_packet = PyMem_Calloc((size_t)history_size, sizeof(PyObject *));
    if (!self->history_seq || !self->history_ts || !self->history_pt || !self->history_packet) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < history_size; i++) self->history_seq[i] = -1;
    Py_INCREF(writer);
    self->writer = writer;
    self->fd = -1;
    PyObject *binding = PyObject_CallMethod(writer, "native_binding", NULL);
    if (!binding) return -1;
    if (binding != Py_None) {
        PyObject *dtls, *nominated, *connected;
        if (!PyArg_ParseTuple(binding, "OO!O", &dtls, &PyDict_Type, &nominated, &connected)) {
            Py_DECREF(binding);
            return -1;
        }
        Py_INCREF(dtls);
        self->dtls = dtls;
        Py_INCREF(nominated);
        self->nominated = nominated;
        Py_INCREF(connected);
        self->connected = connected;
    }
    Py_DECREF(binding);
    return 0;
}

static PyObject *Lane_forward(Lane *self, PyObject *const *args, Py_ssize_t nargs) {
    /* forward(source, packet, payload_type, abs_send_time, now) -> bytes sent */
    if (check_ready(self) < 0) return NULL;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "forward(source, packet, payload_type, abs_send_time, now)");
        return NULL;
    }
    long long source = PyLong_AsLongLong(args[0]);
    int payload_type = (int)PyLong_AsLong(args[2]);
    double now = PyFloat_AsDouble(args[4]);
    if (PyErr_Occurred()) return NULL;
    const unsigned char *abs_time = NULL;
    if (args[3] != Py_None) {
        if (!PyBytes_Check(args[3]) || PyBytes_GET_SIZE(args[3]) != 3) {
            PyErr_SetString(PyExc_ValueError, "abs_send_time must be 3 bytes or None");
            return NULL;
        }
        abs_time = (const unsigned char *)PyBytes_AS_STRING(args[3]);
    }
    PyObject *packet = args[1];
    PyObject *value = PyObject_GetAttr(packet, str_sequence);
    if (!value) return NULL;
    long sequence = PyLong_AsLong(value);
    Py_DECREF(value);
    value = PyObject_GetAttr(packet, str_timestamp);
    if (!value) return NULL;
    unsigned long timestamp = PyLong_AsUnsignedLong(value);
    Py_DECREF(value);
    if (PyErr_Occurred()) return NULL;
    uint16_t out_seq;
    uint32_t out_ts;
    if (!lane_rewrite(self, source, (uint16_t)sequence, (uint32_t)timestamp, now, &out_seq, &out_ts))
        return PyLong_FromLong(0);
    history_put(self, out_seq, out_ts, payload_type, packet);
    PacketView view;
    if (packet_view(packet, &view) < 0) return NULL;
    unsigned char buffer[BUFFER_SIZE];
    Py_ssize_t len = build_packet(self, &view, payload_type, out_seq, out_ts, abs_time, buffer);
    Py_ssize_t payload_len = view.payload_len;
    Py_DECREF(view.payload_obj);
    if (len < 0) {
        self->errors++;
        return PyLong_FromLong(0);
    }
    Py_ssize_t sent = lane_send(self, buffer, len);
    if (sent < 0) return NULL;
    if (sent > 0) {
        self->packets_out++;
        self->octets_out += (unsigned long long)payload_len;
        self->bytes_out += (unsigned long long)sent;
        self->last_timestamp = out_ts;
        self->last_time = now;
    }
    return PyLong_FromSsize_t(sent);
}

static PyObject *Lane_cached(Lane *self, PyObject *arg) {
    if (check_ready(self) < 0) return NULL;
    long sequence = PyLong_AsLong(arg);
    if (sequence == -1 && PyErr_Occurred()) return NULL;
    return PyBool_FromLong(history_index(self, sequence) >= 0);
}

static PyObject *Lane_resend(Lane *self, PyObject *const *args, Py_ssize_t nargs) {
    /* resend(sequence, abs_send_time) -> bytes sent, -1 when not in the history */
    if (check_ready(self) < 0) return NULL;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "resend(sequence, abs_send_time)");
        return NULL;
    }
    long sequence = PyLong_AsLong(args[0]);
    if (sequence == -1 && PyErr_Occurred()) return NULL;
    const unsigned char *abs_time = NULL;
    if (args[1] != Py_None) {
        if (!PyBytes_Check(args[1]) || PyBytes_GET_SIZE(args[1]) != 3) {
            PyErr_SetString(PyExc_ValueError, "abs_send_time must be 3 bytes or None");
            return NULL;
        }
        abs_time = (const unsigned char *)PyBytes_AS_STRING(args[1]);
    }
    Py_ssize_t index = history_index(self, sequence);
    if (index < 0) return PyLong_FromLong(-1);
    PyObject *packet = self->history_packet[index];
    Py_INCREF(packet);
    PacketView view;
    if (packet_view(packet, &view) < 0) {
        Py_DECREF(packet);
        return NULL;
    }
    unsigned char buffer[BUFFER_SIZE];
    Py_ssize_t len = build_packet(self, &view, self->history_pt[index], (uint16_t)sequence, self->history_ts[index],
                                  abs_time, buffer);
    Py_DECREF(view.payload_obj);
    Py_DECREF(packet);
    if (len < 0) return PyLong_FromLong(0);
    Py_ssize_t sent = lane_send(self, buffer, len);
    if (sent < 0) return NULL;
    return PyLong_FromSsize_t(sent);
}

static void history_clear(Lane *self) {
    if (!self->history_packet) return;
    for (Py_ssize_t i = 0; i <= self->history_mask; i++) {
        self->history_seq[i] = -1;
        Py_CLEAR(self->history_packet[i]);
    }
}

static PyObject *Lane_clear_history(Lane *self, PyObject *Py_UNUSED(ignored)) {
    history_clear(self);
    Py_RETURN_NONE;
}

static int Lane_traverse(Lane *self, visitproc visit, void *arg) {
    Py_VISIT(self->writer);
    Py_VISIT(self->dtls);
    Py_VISIT(self->nominated);
    Py_VISIT(self->connected);
    Py_VISIT(self->cached_pair);
    Py_VISIT(self->cached_session);
    if (self->history_packet) {
        for (Py_ssize_t i = 0; i <= self->history_mask; i++) Py_VISIT(self->history_packet[i]);
    }
    return 0;
}

static int Lane_clear(Lane *self) {
    history_clear(self);
    forget_output(self);
    Py_CLEAR(self->writer);
    Py_CLEAR(self->dtls);
    Py_CLEAR(self->nominated);
    Py_CLEAR(self->connected);
    return 0;
}

static void Lane_dealloc(Lane *self) {
    PyObject_GC_UnTrack(self);
    Lane_clear(self);
    PyMem_Free(self->history_seq);
    PyMem_Free(self->history_ts);
    PyMem_Free(self->history_pt);
    PyMem_Free(self->history_packet);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Lane_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    Lane *self = (Lane *)type->tp_alloc(type, 0);
    if (self) self->fd = -1;
    return (PyObject *)self;
}

static PyObject *Lane_get_native(Lane *self, void *closure) { return PyBool_FromLong(self->native); }

static PyMethodDef Lane_methods[] = {
    {"forward", (PyCFunction)(void (*)(void))Lane_forward, METH_FASTCALL,
     "forward(source, packet, payload_type, abs_send_time, now) -> bytes sent (0: not sent)"},
    {"resend", (PyCFunction)(void (*)(void))Lane_resend, METH_FASTCALL,
     "resend(sequence, abs_send_time) -> bytes sent, -1 when the history has no such packet"},
    {"cached", (PyCFunction)Lane_cached, METH_O, "cached(sequence) -> whether the history holds it"},
    {"clear_history", (PyCFunction)Lane_clear_history, METH_NOARGS, "forget the history"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Lane_members[] = {
    {"packets_out", T_ULONGLONG, offsetof(Lane, packets_out), READONLY, "RTP packets sent"},
    {"octets_out", T_ULONGLONG, offsetof(Lane, octets_out), READONLY, "payload bytes sent"},
    {"bytes_out", T_ULONGLONG, offsetof(Lane, bytes_out), READONLY, "protected bytes sent"},
    {"errors", T_ULONGLONG, offsetof(Lane, errors), READONLY, "packets that could not be sent"},
    {"native_sends", T_ULONGLONG, offsetof(Lane, native_sends), READONLY, "packets sent by this lane itself"},
    {"last_timestamp", T_UINT, offsetof(Lane, last_timestamp), READONLY, "RTP timestamp of the last sent packet"},
    {"last_time", T_DOUBLE, offsetof(Lane, last_time), READONLY, "monotonic time of the last sent packet"},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef Lane_getset[] = {
    {"native", (getter)Lane_get_native, NULL, "the current output is protected and sent here", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject LaneType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media_workers._lane.Lane",
    .tp_basicsize = sizeof(Lane),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The per-copy forwarding path of one subscriber slot (see media_workers/lane.py).",
    .tp_new = Lane_new,
    .tp_init = (initproc)Lane_init,
    .tp_dealloc = (destructor)Lane_dealloc,
    .tp_traverse = (traverseproc)Lane_traverse,
    .tp_clear = (inquiry)Lane_clear,
    .tp_methods = Lane_methods,
    .tp_members = Lane_members,
    .tp_getset = Lane_getset,
};

static PyObject *set_srtp_protect(PyObject *module, PyObject *arg) {
    unsigned long long address = PyLong_AsUnsignedLongLong(arg);
    if (PyErr_Occurred()) return NULL;
    srtp_protect_fn = (protect_fn)(uintptr_t)address;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"set_srtp_protect", set_srtp_protect, METH_O,
     "The address of libsrtp's srtp_protect(srtp_t, void *, int *) that sessions belong to (0: none)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef lane_module = {
    PyModuleDef_HEAD_INIT, "media_workers._lane", "Per-copy RTP forwarding in C (see media_workers/lane.py).", -1,
    module_methods,
};

PyMODINIT_FUNC PyInit__lane(void) {
#define INTERN(var, text) \
    if (!(var = PyUnicode_InternFromString(text))) return NULL
    INTERN(str_state, "_state");
    INTERN(str_tx_srtp, "_tx_srtp");
    INTERN(str_send_rtp, "send_rtp");
    INTERN(str_native_output, "native_output");
    INTERN(str_padding, "padding");
    INTERN(str_marker, "marker");
    INTERN(str_payload, "payload");
    INTERN(str_audio_level, "audio_level");
    INTERN(str_sequence, "sequence");
    INTERN(str_timestamp, "timestamp");
#undef INTERN
    if (!(component_one = PyLong_FromLong(1))) return NULL;
    if (PyType_Ready(&LaneType) < 0) return NULL;
    PyObject *module = PyModule_Create(&lane_module);
    if (!module) return NULL;
    Py_INCREF(&LaneType);
    if (PyModule_AddObject(module, "Lane", (PyObject *)&LaneType) < 0) {
        Py_DECREF(&LaneType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
