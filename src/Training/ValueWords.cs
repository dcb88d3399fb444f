namespace RawLongLoRA.Training;

/// <summary>What a value of a .NET type is called in an error a user reads: "a whole number", not System.Int32.</summary>
internal static class ValueWords
{
    public static string Of(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t == typeof(int) ? "a whole number (at most 2147483647)"
            : t == typeof(ulong) ? "a whole number from 0 to 18446744073709551615"
            : t == typeof(float) || t == typeof(double) ? "a number"
            : t == typeof(bool) ? "true or false"
            : t == typeof(string) ? "a string"
            : t == typeof(string[]) ? "a list of strings"
            : t.Name;
    }
}
