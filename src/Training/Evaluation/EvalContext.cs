using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// The guard of every evaluation: a model read past its context (max_position_embeddings) without RoPE
/// scaling measures positions it never saw, which is only meant when asked for (the "as is" row of a
/// context-extension table).
/// </summary>
internal static class EvalContext
{
    /// <summary>Runs <paramref name="body"/> in evaluation mode (no dropout), then puts back the mode the model was in (a trainer may evaluate mid-run).</summary>
    public static T InEvalMode<T>(CausalLM model, Func<T> body)
    {
        bool training = model.Training;
        model.Eval();
        try
        {
            return body();
        }
        finally
        {
            model.Train(training);
        }
    }

    public static void Require(CausalLM model, int length, bool allowBeyondContext, string what)
    {
        int context = ContextExtension.Reach(model.Config);
        if (length > context && !allowBeyondContext)
            throw new ArgumentException(
                $"{what} of {length} tokens is beyond the model's context of {context} tokens (max_position_embeddings, rope {model.Config.Rope.Type.JsonName()}); " +
                "stretch the context by RoPE scaling (--context N --rope-scaling linear|dynamic|yarn) or measure it as is (--allow-beyond-context)");
    }
}
