"""Keras-style layers, channels first, on the C functional ops (see base.py for the contract).

    from cnnfast.layers import Conv2D, BatchNormalization, ReLU, MaxPooling2D, Flatten, Dense
"""
from . import initializers
from .activation import (ELU, Activation, Dropout, GaussianNoise, LeakyReLU, NoisyReLU, PReLU,
                         ReLU, RReLU, Softmax)
from .base import Layer
from .conv import Conv2D, Conv2DTranspose
from .core import Dense, Flatten
from .norm import BatchNormalization
from .pool import AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D

__all__ = ["Layer", "Conv2D", "Conv2DTranspose", "MaxPooling2D", "AveragePooling2D",
           "GlobalAveragePooling2D", "BatchNormalization", "ReLU", "LeakyReLU", "PReLU", "ELU",
           "RReLU", "Activation", "GaussianNoise", "NoisyReLU", "Dropout", "Softmax", "Flatten",
           "Dense", "initializers"]
