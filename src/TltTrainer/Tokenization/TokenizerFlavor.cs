// Byte-level BPE families differ in the regex that splits text into words before merging.
namespace TltTrainer.Tokenization;

/// <summary>The pre-tokenization pattern of a byte-level BPE vocabulary.</summary>
public enum TokenizerFlavor
{
    /// <summary>GPT-2 (also r50k/p50k): contractions, optional leading space plus letters, digits in runs, punctuation.</summary>
    Gpt2,

    /// <summary>Qwen2/Qwen2.5/Qwen3: like cl100k but every digit is its own word.</summary>
    Qwen2,

    /// <summary>OpenAI cl100k_base (also Llama 3): digits in groups of up to three.</summary>
    Cl100kBase,

    /// <summary>OpenAI o200k_base: case-aware words, digits in groups of up to three.</summary>
    O200kBase,
}
