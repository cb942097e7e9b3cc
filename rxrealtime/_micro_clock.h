/* The system clock's time rounded to the microsecond, in seconds: the one formula of
 * rxrealtime._native_records.now() (rxrealtime.recording.micro_time) and of the receive tap's
 * own reading of that clock (rxrealtime._native_tap). As (time.time_ns() + 500) // 1000 / 1e6.
 * Returns 0, or -1 with OSError set when the clock cannot be read. */
#ifndef RXREALTIME_MICRO_CLOCK_H
#define RXREALTIME_MICRO_CLOCK_H

#include <Python.h>
#include <time.h>

static inline int
micro_clock(double *seconds)
{
    struct timespec spec;
    if (timespec_get(&spec, TIME_UTC) != TIME_UTC) {
        PyErr_SetString(PyExc_OSError, "the system clock cannot be read");
        return -1;
    }
    long long micros = (long long)spec.tv_sec * 1000000 + (spec.tv_nsec + 500) / 1000;
    *seconds = (double)micros / 1e6;
    return 0;
}

#endif
