using System.Text;
using System.Text.RegularExpressions;

namespace RawLongLoRA.Model;

/// <summary>The chat formats <see cref="Tokenizer.ApplyChatTemplate"/> writes.</summary>
public enum ChatFormat
{
    /// <summary>Llama 2 chat: "&lt;s&gt;[INST] &lt;&lt;SYS&gt;&gt;\n...\n&lt;&lt;/SYS&gt;&gt;\n\nuser [/INST] answer &lt;/s&gt;".</summary>
    Llama2,

    /// <summary>Llama 3: "&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent&lt;|eot_id|&gt;".</summary>
    Llama3,

    /// <summary>ChatML (Qwen): "&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n".</summary>
    ChatML,
}

/// <summary>
/// The three chat template families written in C#, not by a Jinja engine: the output equals what
/// Hugging Face renders from the model's own template for conversations of system / user /
/// assistant turns (tools are not supported). The family is recognised from the template's
/// markers, or from the vocabulary where a folder has no template; the details that vary within a
/// family are read from the template too: ChatML's default system prompt (Qwen2 / 2.5) and Qwen3's
/// &lt;think&gt; blocks.
/// </summary>
internal sealed class ChatTemplate
{
    private static readonly Regex DefaultSystemLiteral = new(@"<\|im_start\|>system(?:\\n|\n)([^'""{}\\]+)<\|im_end\|>");

    private readonly string _bos, _eos;
    private readonly string? _defaultSystem;
    private readonly bool _thinkBlocks;

    private ChatTemplate(ChatFormat format, string bos, string eos, string? defaultSystem, bool thinkBlocks)
    {
        Format = format;
        _bos = bos;
        _eos = eos;
        _defaultSystem = defaultSystem;
        _thinkBlocks = thinkBlocks;
    }

    public ChatFormat Format { get; }

    /// <summary>
    /// The family of <paramref name="template"/> (or, without one, of the vocabulary); a template of
    /// none of the three gives an exception to throw when a chat is formatted, not at load.
    /// </summary>
    public static (ChatTemplate? Template, TokenizerException? Unsupported) Detect(
        string? template, string templateFile, Func<string, bool> hasToken, TokenizerKind kind, string? bos, string? eos)
    {
        bos ??= "";
        eos ??= "";
        if (template is null)
        {
            var format = hasToken("<|im_start|>") ? ChatFormat.ChatML
                : hasToken("<|start_header_id|>") ? ChatFormat.Llama3
                : kind == TokenizerKind.SentencePiece ? ChatFormat.Llama2 : (ChatFormat?)null;
            return format is { } f
                ? (new ChatTemplate(f, bos, eos, null, false), null)
                : (null, new TokenizerException(templateFile, "chat_template", "missing, and the vocabulary has no chat markers; expected a Llama 2, Llama 3 or ChatML template"));
        }
        if (template.Contains("<|im_start|>"))
        {
            var literal = DefaultSystemLiteral.Match(template);
            return (new ChatTemplate(ChatFormat.ChatML, bos, eos, literal.Success ? literal.Groups[1].Value : null, template.Contains("<think>")), null);
        }
        if (template.Contains("<|start_header_id|>"))
        {
            // Llama 3.1 and later add a system header with the date and tool instructions.
            return template.Contains("Cutting Knowledge Date")
                ? (null, new TokenizerException(templateFile, "chat_template", "is a Llama 3.1+ template (dated system header), which is not supported; Llama 3.0's is"))
                : (new ChatTemplate(ChatFormat.Llama3, bos, eos, null, false), null);
        }
        if (template.Contains("[INST]") && template.Contains("<<SYS>>"))
            return (new ChatTemplate(ChatFormat.Llama2, bos, eos, null, false), null);
        return (null, new TokenizerException(templateFile, "chat_template", "is none of the supported families (Llama 2 [INST] <<SYS>>, Llama 3 headers, ChatML <|im_start|>)"));
    }

    public string Apply(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        if (messages.Count == 0)
            throw new ArgumentException("a chat needs at least one message", nameof(messages));
        foreach (var m in messages)
            if (m.Role is not ("system" or "user" or "assistant"))
                throw new ArgumentException($"role '{m.Role}': expected system, user or assistant", nameof(messages));
        var sb = new StringBuilder();
        switch (Format)
        {
            case ChatFormat.Llama2:
                Llama2(messages, sb);
                break;
            case ChatFormat.Llama3:
                Llama3(messages, addGenerationPrompt, sb);
                break;
            default:
                ChatML(messages, addGenerationPrompt, sb);
                break;
        }
        return sb.ToString();
    }

    /// <summary>A system message goes inside the first [INST]; there is no generation prompt (the text ends at [/INST]).</summary>
    private void Llama2(IReadOnlyList<ChatMessage> messages, StringBuilder sb)
    {
        string? system = messages[0].Role == "system" ? messages[0].Content : null;
        int first = system is null ? 0 : 1;
        for (int i = first; i < messages.Count; i++)
        {
            var m = messages[i];
            if ((m.Role == "user") != ((i - first) % 2 == 0))
                throw new ArgumentException("Conversation roles must alternate user/assistant/user/assistant/...", nameof(messages));
            string content = i == first && system is not null ? $"<<SYS>>\n{system}\n<</SYS>>\n\n{m.Content}" : m.Content;
            sb.Append(m.Role == "user" ? $"{_bos}[INST] {Strip(content)} [/INST]" : $" {Strip(content)} {_eos}");
        }
    }

    private void Llama3(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, StringBuilder sb)
    {
        sb.Append(_bos);
        foreach (var m in messages)
            sb.Append($"<|start_header_id|>{m.Role}<|end_header_id|>\n\n{Strip(m.Content)}<|eot_id|>");
        if (addGenerationPrompt)
            sb.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
    }

    private void ChatML(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, StringBuilder sb)
    {
        bool systemFirst = messages[0].Role == "system";
        if (!systemFirst && _defaultSystem is not null)
            sb.Append($"<|im_start|>system\n{_defaultSystem}<|im_end|>\n");
        int lastQuery = _thinkBlocks ? LastUserMessage(messages) : -1;
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            sb.Append($"<|im_start|>{m.Role}\n");
            sb.Append(_thinkBlocks && m.Role == "assistant" ? AssistantWithThinking(m.Content, i > lastQuery, i == messages.Count - 1) : m.Content);
            sb.Append("<|im_end|>\n");
        }
        if (addGenerationPrompt)
            sb.Append("<|im_start|>assistant\n");
    }

    /// <summary>
    /// Qwen3: reasoning ("&lt;think&gt;...&lt;/think&gt;") is dropped from answers before the last user
    /// message, and kept in a &lt;think&gt; block after it (an empty one for the final answer).
    /// </summary>
    private static string AssistantWithThinking(string content, bool afterLastQuery, bool isLast)
    {
        string reasoning = "";
        int close = content.IndexOf("</think>", StringComparison.Ordinal);
        if (close >= 0)
        {
            string before = content[..close].TrimEnd('\n');
            int open = before.LastIndexOf("<think>", StringComparison.Ordinal);
            reasoning = (open >= 0 ? before[(open + "<think>".Length)..] : before).TrimStart('\n');
            content = content[(content.LastIndexOf("</think>", StringComparison.Ordinal) + "</think>".Length)..].TrimStart('\n');
        }
        return afterLastQuery && (isLast || reasoning.Length > 0)
            ? $"<think>\n{reasoning.Trim('\n')}\n</think>\n\n{content.TrimStart('\n')}"
            : content;
    }

    /// <summary>The index of the last user message that is not a tool response; the last index if there is none.</summary>
    private static int LastUserMessage(IReadOnlyList<ChatMessage> messages)
    {
        for (int i = messages.Count - 1; i >= 0; i--)
        {
            string c = messages[i].Content;
            if (messages[i].Role == "user" && !(c.StartsWith("<tool_response>", StringComparison.Ordinal) && c.EndsWith("</tool_response>", StringComparison.Ordinal)))
                return i;
        }
        return messages.Count - 1;
    }

    /// <summary>Python's str.strip(), which the templates call: its whitespace includes U+001C..U+001F.</summary>
    private static string Strip(string s)
    {
        static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';
        int start = 0, end = s.Length;
        while (start < end && IsSpace(s[start]))
            start++;
        while (end > start && IsSpace(s[end - 1]))
            end--;
        return s[start..end];
    }
}
