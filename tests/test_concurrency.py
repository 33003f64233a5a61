"""Many Python threads at once: kernels, optimizers and registry look-ups give the serial results,
and changing the thread count mid-flight neither crashes nor corrupts anything."""
import threading
import time

import numpy as np

import fpkernels as fk

PYTHON_THREADS = 8
SECONDS = 3.0


def workload():
    """Calls over every family, on inputs big enough to go parallel; returns name -> result."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((512, 512)).astype(np.float32)
    y = rng.standard_normal((512, 512)).astype(np.float32)
    param, grad = x.copy(), y * 0.01
    adam = fk.optimizers.get("adam", lr=0.01)
    adam.step([param], [grad])
    return {
        "add": fk.add(x, y),
        "std": fk.std(x),
        "median": fk.median(x),
        "matmul": fk.matmul(x, y, transpose_b=True),
        "gelu": fk.activations.get("GELU").backward(x, y),
        "softmax": fk.activations.get("softmax").forward(x),
        "bce": fk.losses.get("bce").gradient(fk.activations.get("sigmoid").forward(x), y > 0),
        "adam": param,
        "xavier": fk.initializers.get("glorot")((256, 512), rng=3),
        "names": fk.activations.names() + fk.losses.names(),
    }


def same(a, b):
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a == b


def test_eight_python_threads_agree_with_serial_calls_while_the_thread_count_changes():
    expected = workload()
    failures, rounds = [], [0] * PYTHON_THREADS
    stop = time.monotonic() + SECONDS

    def worker(index):
        while time.monotonic() < stop:
            got = workload()
            failures.extend(name for name in expected if not same(got[name], expected[name]))
            rounds[index] += 1

    def switcher():  # flips the OpenMP thread count under the workers' feet
        count = 0
        while time.monotonic() < stop:
            fk.set_num_threads(1 + count % 2)
            count += 1
            time.sleep(0.001)

    before = fk.get_num_threads()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(PYTHON_THREADS)]
    threads.append(threading.Thread(target=switcher))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fk.set_num_threads(before)
    assert not failures, f"results differed from serial calls: {sorted(set(failures))}"
    assert min(rounds) >= 1, f"a worker never finished a round: {rounds}"
