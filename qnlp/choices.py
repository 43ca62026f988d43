"""The names a user picks from: models, feature maps, read-outs, encoders.

One home for each list, in a module that imports nothing else, so the
task settings and the command line offer them without importing torch,
scikit-learn or lambeq (``qnlp train --help`` and a bad option answer at
once), and the modules that build the named things import the same lists.

>>> 'creep-qcc' in CREEP_MODELS and len(CREEP_MODELS) == 8
True
>>> IMAGE_MODELS[0], FEATURE_MAPS
('hqnn-parallel', ('angle', 'zz'))
>>> OPTIMISERS[-1], SCHEDULES[-1]
('nelder-mead', 'onecycle')
"""
from __future__ import annotations

from itertools import product

#: :mod:`qnlp.train.optim`: optimisers of :func:`qnlp.train.fit` --
#: gradient-based, SPSA, and scipy's (name -> scipy's method name).
GRADIENT_OPTIMISERS = ('adam', 'sgd', 'aqgd')
SCIPY_OPTIMISERS = {'cobyla': 'COBYLA', 'nelder-mead': 'Nelder-Mead'}
OPTIMISERS = GRADIENT_OPTIMISERS + ('spsa',) + tuple(SCIPY_OPTIMISERS)
#: Learning-rate schedules stepped once per epoch, and those stepped after
#: every optimiser step.
EPOCH_SCHEDULES = ('constant', 'cosine', 'step')
STEP_SCHEDULES = ('onecycle',)
SCHEDULES = EPOCH_SCHEDULES + STEP_SCHEDULES
#: Which epoch's weights a run keeps: best dev accuracy (ties: lower dev
#: loss), lowest dev loss (ties: higher dev accuracy), or the last.
SELECTIONS = ('dev-accuracy', 'dev-loss', 'last')
#: :mod:`qnlp.models.images`: hybrid networks with parallel quantum
#: layers or a quanvolution, and their classical counterparts.
IMAGE_MODELS = ('hqnn-parallel', 'cnn', 'cnn-large', 'hqnn-quanv',
                'cnn-quanv', 'cnn-quanv-large')
#: Front ends of the image networks (small grey images, CIFAR-sized).
IMAGE_FRONTS = ('small', 'cifar')
#: :mod:`qnlp.models.reupload`: circuits on ceil(log2(side)) qubits
#: (MNIST's 28x28 on 5 qubits, padded to 32x32).
REUPLOAD_MODELS = ('hamiltonian', 'angle-reupload', 'qcnn')
#: How an image becomes a Hamiltonian in :mod:`qnlp.models.reupload`.
EMBEDDINGS = ('hermitian', 'symmetric')
#: The trainable layers of the re-uploading circuits.
ANSATZES = ('su', 'ring')
#: :mod:`qnlp.models.creep`: three layers (flattened image -> width ->
#: width -> classes), each classical (c) or quantum (q), e.g.
#: ``creep-qcc``.
CREEP_MODELS = tuple('creep-' + ''.join(kinds)
                     for kinds in product('cq', repeat=3))
#: :mod:`qnlp.models.transfer`: an autoencoder's 64-d latent (pretrained,
#: then frozen) feeding a classical, the paper's hybrid, a dressed-circuit,
#: a re-uploading, a linear-map-then-paper-circuit or a
#: Hamiltonian-embedding re-uploading head.
TRANSFER_MODELS = ('transfer-classical', 'transfer-hybrid',
                   'transfer-dressed', 'transfer-reupload', 'transfer-linear',
                   'transfer-hamiltonian')

#: :class:`qnlp.models.sequence.SequenceClassifier`: how the windows'
#: read-outs of a protein make one logit.
POOLINGS = ('max-min', 'max-min-mean')
#: ... and which Bloch-vector components of its read-out qubit it reads.
READOUT_AXES = ('z', 'xyz')

#: :mod:`qnlp.models.wordvectors`: the word vectors that can feed word
#: parameters (its ``EMBEDDERS`` registry has these and any a user adds).
WORD_VECTORS = ('all-MiniLM-L6-v2', 'char-ngrams')

#: :mod:`qnlp.models.circuits`: feature maps of the VQC and the kernel.
FEATURE_MAPS = ('angle', 'zz')
#: Entangler pairs of the ansatz and the kernel's feature map.
ENTANGLEMENTS = ('linear', 'reverse_linear', 'circular', 'full')
#: VQC read-outs: Z parity of all qubits, or Z of qubit 0.
READOUTS = ('parity', 'z')

#: :mod:`qnlp.baselines.features`: how review texts become feature
#: vectors (sentence embeddings or TF-IDF).
FEATURE_ENCODERS = ('embedding', 'tfidf')
#: Classical classifiers on those feature vectors.
FEATURE_CLASSIFIERS = ('svm-rbf', 'gradient-boosting', 'random-forest',
                       'logistic-regression')
