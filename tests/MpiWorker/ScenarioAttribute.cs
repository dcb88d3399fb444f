using System.Reflection;
using RawLongLoRA.Distributed;

namespace RawLongLoRA.MpiWorker;

/// <summary>
/// Marks a static method <c>void M(ICommunicator world, string[] args)</c> as a scenario the worker runs by this name.
/// A scenario checks what it computes and throws when a check fails; it prints what it measured.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class ScenarioAttribute(string name) : Attribute
{
    public string Name { get; } = name;

    /// <summary>The scenario named <paramref name="name"/>, or null.</summary>
    public static Action<ICommunicator, string[]>? Find(string name)
    {
        var method = typeof(ScenarioAttribute).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            .FirstOrDefault(m => m.GetCustomAttribute<ScenarioAttribute>()?.Name == name);
        return method?.CreateDelegate<Action<ICommunicator, string[]>>();
    }
}
