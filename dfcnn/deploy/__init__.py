"""Models for runtimes without dfcnn: ``export`` writes a trained model as one waveform -> log-probs
graph (ONNX fp32 or int8, TorchScript); ``runtime`` runs an exported ONNX graph in onnxruntime.
"""
