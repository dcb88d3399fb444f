using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>
/// Inverted dropout: keep each element with probability 1 − p and scale it by 1/(1 − p). The mask
/// comes from a Philox generator, so a checkpointed layer that restores the generator replays it.
/// </summary>
public static class DropoutOp
{
    extension(Tensor x)
    {
        /// <summary>
        /// Zeroes each element with probability <paramref name="p"/> and scales the rest by 1/(1 − p), drawing the
        /// mask from <paramref name="generator"/> (default: <see cref="Generator.Default"/>); with
        /// <paramref name="training"/> false or p = 0, the identity.
        /// </summary>
        public Tensor Dropout(float p, bool training = true, Generator? generator = null)
        {
            using var profile = Profiler.Op("dropout", x);
            Check.Alive("dropout", x);
            if (p < 0 || p >= 1)
                throw new ArgumentOutOfRangeException(nameof(p), p, "dropout: p must be in [0, 1)");
            if (!training || p == 0)
                return Graph.Record(x.Restride(x.Layout), "dropout", [x], (g, _) => [g]);
            var mask = Tensor.Bernoulli(x.ShapeArray, 1 - p, generator, x.Device);
            var backend = Graph.Backend("dropout", x);
            backend.Unary(UnaryOp.Scale, mask, mask, 1f / (1 - p));
            var y = Graph.Empty(x.ShapeArray, x);
            backend.Binary(BinaryOp.Mul, y, x, mask);
            return Graph.Record(y, "dropout", [x], [mask], (g, _) => [g * mask]);
        }
    }
}
