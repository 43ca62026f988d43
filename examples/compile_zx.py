"""Compile a sentence through the post-selection-aware ZX route, export
it, and run it with shots on qiskit-aer.

    python examples/compile_zx.py ["SENTENCE"]
"""
import sys

import qnlp

if __name__ == '__main__':
    sentence = sys.argv[1] if len(sys.argv) > 1 else 'woman cooks tasty meal'
    symbolic = qnlp.compile(sentence, layers=2)
    values = {name: 0.1 * (i + 1) for i, name in
              enumerate(symbolic.symbols)}
    bound = qnlp.compile(sentence, values, layers=2)
    print('two-qubit gates:', bound.stats['two_qubit_gates'],
          'candidates:', bound.stats['candidates'])
    print('post-selection:', bound.postselect,
          'success probability:', round(bound.success_probability(), 4))
    print('exact:', bound.probabilities())
    print('8192 shots:', bound.run_shots(8192))
    print(bound.to_qasm())
