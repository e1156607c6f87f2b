"""TFLite exports run by LiteRT (``ai-edge-litert``, the ``export`` extra); imports no
TensorFlow."""


def load_tflite(path, threads=None):
    """A callable ``run(batch) -> probabilities`` for a ``.tflite`` export (uint8 images in),
    through LiteRT's interpreter, one request at a time.

    Args:
        path: the model file.
        threads: interpreter threads, or None for LiteRT's default.
    """
    import threading

    import numpy as np
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=path, num_threads=threads)
    lock = threading.Lock()
    state = {"batch": None}
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]

    def run(batch):
        batch = np.ascontiguousarray(batch, dtype=np.uint8)
        with lock:  # one interpreter, one request at a time
            if state["batch"] != len(batch):
                interpreter.resize_tensor_input(input_index, list(batch.shape), strict=False)
                interpreter.allocate_tensors()
                state["batch"] = len(batch)
            interpreter.set_tensor(input_index, batch)
            interpreter.invoke()
            return np.array(interpreter.get_tensor(output_index))
    return run
