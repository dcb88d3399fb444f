using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>
/// The reverse-mode engine. <see cref="Backward"/> orders the nodes reachable from the root in
/// reverse topological order (only nodes that lead to a leaf wanting a gradient exist: ops record
/// nothing otherwise), runs each node's rule once with its summed output gradient, and accumulates
/// into leaves' <see cref="Tensor.Grad"/>. Temporaries of each rule are disposed as soon as the
/// rule has run.
/// </summary>
public static class Autograd
{
    [ThreadStatic]
    private static Action<Tensor>? _onAccumulated;

    /// <summary>
    /// Calls <paramref name="hook"/> on this thread, until disposed, each time backward has added into a leaf's
    /// <see cref="Tensor.Grad"/> (checkpointed segments' inner backward passes included): data parallelism counts these
    /// calls to start a gradient bucket's all-reduce as soon as its gradients are final.
    /// </summary>
    public static IDisposable OnGradientAccumulated(Action<Tensor> hook)
    {
        var outer = _onAccumulated;
        _onAccumulated = hook;
        return new Restore(() => _onAccumulated = outer);
    }

    /// <summary>Turns recording off on this thread until disposed (as torch.no_grad).</summary>
    public static IDisposable NoGrad() => GradMode.Disable();

    /// <summary>False inside a <see cref="NoGrad"/> scope on this thread (ops then record nothing).</summary>
    public static bool IsGradEnabled => GradMode.Enabled;

    /// <summary>
    /// Computes the gradient of <paramref name="root"/> with respect to every leaf that requires one and adds it into
    /// the leaf's <see cref="Tensor.Grad"/> (float32, the leaf's shape, owned by the leaf). A scalar root seeds with
    /// 1; any other root needs <paramref name="gradOutput"/> of its shape. The graph's saved tensors stay until their
    /// tensors are disposed.
    /// </summary>
    public static void Backward(this Tensor root, Tensor? gradOutput = null)
    {
        root.ThrowIfDisposed();
        if (!root.RequiresGrad)
            throw new InvalidOperationException($"backward: tensor {root.Describe()} does not require grad and has no grad_fn");
        Tensor seed;
        if (gradOutput is null)
        {
            if (root.Numel != 1)
                throw new InvalidOperationException($"backward: a gradient must be given for non-scalar output {root.Describe()}");
            seed = Tensor.Full(root.ShapeArray, 1.0, DType.F32, root.Device).DetachFromScope();
        }
        else
        {
            Check.SameShape("backward", gradOutput, root);
            seed = gradOutput.Restride(gradOutput.Layout).DetachFromScope();
        }
        using (GradMode.Disable())
        {
            if (root.GradFn is null)
            {
                Accumulate(root, seed);
                return;
            }
            Run(root.GradFn, seed);
        }
    }

    private static void Run(Node rootNode, Tensor seed)
    {
        using var profile = Profiler.Backward();
        var order = TopologicalOrder(rootNode);
        var pending = new Dictionary<Node, Tensor> { [rootNode] = seed };
        foreach (var node in order)
        {
            if (!pending.Remove(node, out var g))
                continue;
            // Each gradient handed on gets its own handle, taken out of the rule's scope: a rule may
            // return g itself, one tensor twice, or a view of a temporary; the scope then frees the rest.
            var handoffs = new List<(Tensor Input, Tensor Grad)>();
            using (new DisposeScope())
            {
                node.CheckVersions();
                Tensor?[] grads;
                using (profile is null ? default : profile.Enter(node))
                using (Autocast.Scope(node.Precision))
                    grads = node.Backward(g.IsContiguous ? g : Contiguous(g));
                if (grads.Length != node.Inputs.Length)
                    throw new InvalidOperationException($"backward of {node.Name}: returned {grads.Length} gradients for {node.Inputs.Length} inputs");
                for (int i = 0; i < grads.Length; i++)
                {
                    if (!node.NeedsGrad(i))
                        continue;
                    var input = node.Inputs[i]!;
                    var gi = grads[i] ?? throw new InvalidOperationException($"backward of {node.Name}: no gradient for input {i} ({input.Describe()}) that requires one");
                    if (!Shapes.Equal(gi.Shape, input.Shape))
                        throw new InvalidOperationException($"backward of {node.Name}: gradient of shape {Shapes.Format(gi.Shape)} for input {i} of shape {Shapes.Format(input.Shape)}");
                    handoffs.Add((input, gi.Restride(gi.Layout).DetachFromScope()));
                }
            }
            g.Dispose();
            foreach (var (input, gi) in handoffs)
            {
                if (input.GradFn is { } next)
                    pending[next] = pending.Remove(next, out var acc) ? Sum(acc, gi) : gi;
                else
                    Accumulate(input, gi);
            }
        }
        foreach (var left in pending.Values)
            left.Dispose();
    }

    /// <summary>Nodes reachable from the root, each after every node that consumes its output.</summary>
    private static List<Node> TopologicalOrder(Node root)
    {
        var post = new List<Node>();
        var visited = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Node Node, int Next)>();
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (node, next) = stack.Pop();
            if (next < node.Inputs.Length)
            {
                stack.Push((node, next + 1));
                if (node.Inputs[next] is { } input)
                {
                    Check.Alive("backward of " + node.Name, input);
                    if (input.GradFn is { } child && node.NeedsGrad(next) && visited.Add(child))
                        stack.Push((child, 0));
                }
                continue;
            }
            post.Add(node);
        }
        post.Reverse();
        return post;
    }

    /// <summary>Adds into a leaf's gradient, which the leaf then owns: contiguous, float32, its own storage.</summary>
    private static void Accumulate(Tensor leaf, Tensor g)
    {
        if (leaf.Grad is null)
        {
            bool owned = g.IsContiguous && g.DType == DType.F32 && g.Storage.RefCount == 1 && g.Storage.ByteLength == g.Numel * sizeof(float);
            leaf.Grad = owned ? g : Contiguous(g).DetachFromScope();
            if (!owned)
                g.Dispose();
        }
        else
        {
            Graph.Backend("accumulate_grad", leaf.Grad, g).Binary(BinaryOp.Add, leaf.Grad, leaf.Grad, g);
            g.Dispose();
        }
        _onAccumulated?.Invoke(leaf);
    }

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }

    private static Tensor Sum(Tensor a, Tensor b)
    {
        var s = Graph.Empty(a.ShapeArray, a).DetachFromScope();
        Graph.Backend("accumulate_grad", a, b).Binary(BinaryOp.Add, s, a, b);
        a.Dispose();
        b.Dispose();
        return s;
    }

    private static Tensor Contiguous(Tensor g)
    {
        var c = Graph.Empty(g.ShapeArray, g);
        c.CopyFrom(g);
        return c;
    }
}
