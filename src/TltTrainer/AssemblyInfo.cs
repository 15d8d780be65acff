// TltTrainer: reinforcement-learning training of language models with lossless speculative rollouts.
