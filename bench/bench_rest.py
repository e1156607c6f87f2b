"""REST throughput of ``ml @name run:rest`` against direct Predictor calls.

Starts the real server (``python -m vergeml @name run:rest``) on a free port
of 127.0.0.1, sends single-image POST /predict requests from a pool of client
threads (keep-alive connections), then measures the same work done in-process
with ``Predictor.predict_images`` (one image per call). Prints requests/s,
latency percentiles, and the ratio REST / direct.

Usage:
    python bench/bench_rest.py                                  # fabricated instance
    python bench/bench_rest.py --trainings-dir trainings --name nervous-tron
    python bench/bench_rest.py --requests 300 --concurrency 8
    python bench/bench_rest.py --quick                          # 50 requests, 1 round
"""
import argparse
import http.client
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rows

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def fabricate(trainings_dir, name="bench-tron", size=96, classes=10):
    """A digits-sized instance: MobileNet alpha 0.25 (random weights) + softmax top."""
    from vergeml.runtimes import tensorflow_setup as backend
    _, keras = backend.load()
    import yaml
    folder = Path(trainings_dir) / name
    (folder / "checkpoints").mkdir(parents=True)
    base = keras.applications.MobileNet(input_shape=(size, size, 3), alpha=0.25, include_top=False,
                                        weights=None, pooling="avg")
    inputs = keras.Input((size, size, 3), name="image")
    outputs = keras.layers.Dense(classes, activation="softmax")(base(inputs))
    keras.Model(inputs, outputs).save(folder / "checkpoints" / "model.keras")
    labels = [str(i) for i in range(classes)]
    (folder / "checkpoints" / "labels.txt").write_text("\n".join(labels) + "\n")
    (folder / "data.yaml").write_text(yaml.safe_dump({
        "name": name, "model": "imagenet", "backbone": "mobilenet", "status": "finished",
        "hyperparameters": {"architecture": "mobilenet", "size": size, "alpha": 0.25,
                            "resize": "fill", "labels": labels}}))
    return name


def sample_jpeg(size=128):
    """A JPEG with some structure (a gradient), a few KB like a real photo thumbnail."""
    import numpy as np
    from PIL import Image
    ramp = np.linspace(0, 255, size, dtype=np.uint8)
    pixels = np.stack([np.tile(ramp, (size, 1)), np.tile(ramp[:, None], (1, size)),
                       np.full((size, size), 128, np.uint8)], axis=-1)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def multipart(filename, data):
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def start_server(trainings_dir, name, threads):
    """Start ``ml @name run:rest --port 0``; return (process, port)."""
    command = [sys.executable, "-m", "vergeml", f"--trainings-dir={trainings_dir}", f"@{name}",
               "run:rest", "--port", "0", "--no-browser", "--threads", str(threads)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env=dict(os.environ, PYTHONUNBUFFERED="1"))
    found = {}

    def read():
        for line in iter(process.stdout.readline, ""):
            match = re.search(r"on http://127\.0\.0\.1:(\d+)", line)
            if match:
                found["port"] = int(match.group(1))

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 120
    while "port" not in found:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            sys.exit("the REST server did not start")
        time.sleep(0.1)
    return process, found["port"]


def bench_rest(port, body, content_type, requests, concurrency):
    """Send ``requests`` POSTs from ``concurrency`` keep-alive clients; return latencies."""
    counter = iter(range(requests))
    lock = threading.Lock()
    latencies = []

    def client(_):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        while True:
            with lock:
                if next(counter, None) is None:
                    break
            started = time.perf_counter()
            conn.request("POST", "/predict", body, {"Content-Type": content_type})
            response = conn.getresponse()
            payload = response.read()
            if response.status != 200:
                raise RuntimeError(f"{response.status}: {payload[:200]!r}")
            mine.append(time.perf_counter() - started)
        conn.close()
        return mine

    with ThreadPoolExecutor(concurrency) as pool:
        for result in pool.map(client, range(concurrency)):
            latencies.extend(result)
    return latencies


def _predictors(trainings_dir, name, repeat):
    """One loaded Predictor, yielded ``repeat`` times."""
    from vergeml.models.imagenet.predictor import Predictor
    from vergeml.instances import load_instance
    predictor = Predictor(load_instance(trainings_dir, name))
    predictor.warm_up()
    for _ in range(repeat):
        yield predictor


def bench_direct(predictor, data, requests):
    """The same single-image work without HTTP: Predictor.predict_images per image."""
    predictor.predict_images([("warm.jpg", data)])
    started = time.perf_counter()
    for _ in range(requests):
        predictor.predict_images([("x.jpg", data)])
    return requests / (time.perf_counter() - started)


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainings-dir", help="trainings folder of an existing instance")
    parser.add_argument("--name", help="instance name (without @)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (bench-quick)")
    parser.add_argument("--requests", type=int, help="per round (default 200, quick 50)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="server worker threads")
    parser.add_argument("--repeat", type=int,
                        help="rounds of each measurement; the best is kept (shared machines are noisy)"
                             " (default 3, quick 1)")
    args = parser.parse_args()
    args.requests = args.requests or (50 if args.quick else 200)
    args.repeat = args.repeat or (1 if args.quick else 3)
    with tempfile.TemporaryDirectory() as tmp:
        if args.name:
            trainings_dir, name = Path(args.trainings_dir or "trainings").resolve(), args.name
        else:
            trainings_dir, name = Path(tmp), fabricate(tmp)
            print("fabricated @bench-tron: MobileNet alpha 0.25, 96x96, 10 classes (random weights)")
        data = sample_jpeg()
        body, content_type = multipart("sample.jpg", data)
        process, port = start_server(trainings_dir, name, args.threads)
        try:
            bench_rest(port, body, content_type, 10, 2)  # warm-up
            rest_rate, latencies = 0, []
            for _ in range(args.repeat):
                started = time.perf_counter()
                run = bench_rest(port, body, content_type, args.requests, args.concurrency)
                rate = len(run) / (time.perf_counter() - started)
                if rate > rest_rate:
                    rest_rate, latencies = rate, run
        finally:
            process.terminate()
            process.wait(30)
        direct_rate = max(bench_direct(predictor, data, args.requests)
                          for predictor in _predictors(trainings_dir, name, args.repeat))
    result = {
        "instance": name, "image_bytes": len(data), "requests": args.requests, "repeat": args.repeat,
        "concurrency": args.concurrency, "server_threads": args.threads,
        "rest_requests_per_s": round(rest_rate, 1),
        "rest_latency_ms_p50": round(1000 * percentile(latencies, 0.5), 1),
        "rest_latency_ms_p95": round(1000 * percentile(latencies, 0.95), 1),
        "direct_images_per_s": round(direct_rate, 1),
        "ratio_rest_to_direct": round(rest_rate / direct_rate, 2),
        "cpus": os.cpu_count(),
    }
    print(f"REST    {rest_rate:7.1f} requests/s  (p50 {result['rest_latency_ms_p50']} ms, "
          f"p95 {result['rest_latency_ms_p95']} ms, {args.concurrency} clients)")
    print(f"direct  {direct_rate:7.1f} images/s    (Predictor.predict_images, one image per call)")
    print(f"ratio   {rest_rate / direct_rate:7.2f}")
    print(json.dumps(result))
    rows.emit(f"REST predict throughput, {args.concurrency} clients, {args.requests} requests, "
              f"best of {args.repeat}", rest_rate, direct_rate, "img/s",
              note=f"direct predict_images; REST p50 {result['rest_latency_ms_p50']} ms")


if __name__ == "__main__":
    main()
