//! Fuzzing the model-file language: generated and mutated model files, with the shipped models
//! as the corpus. (The harness is being written.)
