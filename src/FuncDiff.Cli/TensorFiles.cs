namespace FuncDiff.Cli;

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

/// <summary>
/// Tensors from files: NumPy's .npy format (float64, float32, int32 and bool arrays in C order), or JSON in the
/// tensor format funcdiff prints (see <see cref="Json"/>). The format is told by the content, not the file name,
/// so standard input works the same. Every failure is an <see cref="InvalidDataException"/> saying what is wrong.
/// </summary>
internal static partial class TensorFiles
{
    private static ReadOnlySpan<byte> NpyMagic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>One tensor: a .npy file, or a JSON tensor object <c>{"shape", "dtype", "data"}</c>.</summary>
    /// <param name="bytes">The file's content.</param>
    public static Tensor ReadTensor(byte[] bytes)
    {
        if (bytes.AsSpan().StartsWith(NpyMagic)) return ReadNpy(bytes);
        using var document = ParseJson(bytes);
        return Json.ReadTensor(document.RootElement, "the file");
    }

    /// <summary>Every binding of a JSON object whose properties are input names and whose values are tensors.</summary>
    /// <param name="bytes">The file's content.</param>
    public static IEnumerable<(string Name, Tensor Value)> ReadBindings(byte[] bytes)
    {
        if (bytes.AsSpan().StartsWith(NpyMagic))
            throw new InvalidDataException("a .npy file holds one array and no name: bind it to one input with name=@file");
        using var document = ParseJson(bytes);
        return Json.ReadBindings(document);
    }

    private static System.Text.Json.JsonDocument ParseJson(byte[] bytes)
    {
        NotOther(bytes);
        try
        {
            var utf8 = bytes.AsMemory();
            if (utf8.Span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) utf8 = utf8[3..];
            return System.Text.Json.JsonDocument.Parse(utf8);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"neither .npy (it does not start with \\x93NUMPY) nor valid JSON: {e.Message}");
        }
    }

    // Formats people save arrays in by mistake, named so that the fix is clear.
    private static void NotOther(ReadOnlySpan<byte> bytes)
    {
        if (bytes.StartsWith("PK\x03\x04"u8))
            throw new InvalidDataException("a zip archive (an .npz file?) holds several arrays: save one with numpy.save(path, array)");
        if (bytes.Length > 0 && bytes[0] == 0x80)
            throw new InvalidDataException("a Python pickle, which funcdiff does not read (it can run code): save the array with numpy.save(path, array)");
    }

    // ---- .npy ----------------------------------------------------------------------------------------

    /// <summary>Reads a .npy file (versions 1 to 3): a magic string, a header that is a Python dict literal, then the raw data.</summary>
    private static Tensor ReadNpy(byte[] bytes)
    {
        if (bytes.Length < 10) throw new InvalidDataException("a .npy file cut short in its header");
        int major = bytes[6], minor = bytes[7];
        int headerStart;
        long headerLength;
        switch (major)
        {
            case 1:
                headerStart = 10;
                headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
                break;
            case 2:
            case 3:
                if (bytes.Length < 12) throw new InvalidDataException("a .npy file cut short in its header");
                headerStart = 12;
                headerLength = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
                break;
            default:
                throw new InvalidDataException($".npy format version {major}.{minor} is not supported (versions 1.0 to 3.0 are)");
        }
        if (headerStart + headerLength > bytes.Length) throw new InvalidDataException("a .npy file cut short in its header");
        var header = Encoding.UTF8.GetString(bytes, headerStart, (int)headerLength);
        var (dtype, itemSize, bigEndian) = NpyDType(header);
        if (HeaderValue(FortranPattern(), header, "fortran_order") == "True")
        {
            throw new InvalidDataException(
                "the array is in Fortran (column-major) order, which funcdiff does not read: save numpy.ascontiguousarray(array)");
        }
        var shape = NpyShape(header);
        var size = 1L;
        foreach (var d in shape) size *= d;
        var data = bytes.AsSpan(headerStart + (int)headerLength);
        var needed = size * itemSize;
        if (data.Length != needed)
        {
            var shown = $"[{string.Join(", ", shape)}]";
            throw new InvalidDataException(data.Length < needed
                ? $"a .npy file cut short: shape {shown} of {Json.DTypeName(dtype)} needs {needed} bytes of data, the file has {data.Length}"
                : $"{data.Length - needed} bytes after the data of shape {shown} of {Json.DTypeName(dtype)}");
        }
        var raw = data.ToArray();
        if (bigEndian && itemSize > 1)
        {
            for (var i = 0; i < raw.Length; i += itemSize) raw.AsSpan(i, itemSize).Reverse();
        }
        return dtype switch
        {
            DType.Float64 => Tensor.FromArray(MemoryMarshal.Cast<byte, double>(raw).ToArray(), shape),
            DType.Float32 => Tensor.FromArray(MemoryMarshal.Cast<byte, float>(raw).ToArray(), shape),
            DType.Int32 => Tensor.FromArray(MemoryMarshal.Cast<byte, int>(raw).ToArray(), shape),
            _ => Tensor.FromArray(Booleans(raw), shape),
        };
    }

    private static bool[] Booleans(byte[] raw)
    {
        var index = raw.AsSpan().IndexOfAnyExcept((byte)0, (byte)1);
        if (index >= 0) throw new InvalidDataException($"element {index} of a bool array is the byte {raw[index]}, not 0 or 1");
        return Array.ConvertAll(raw, b => b == 1);
    }

    private static (DType DType, int ItemSize, bool BigEndian) NpyDType(string header)
    {
        if (StructuredPattern().IsMatch(header)) throw new InvalidDataException("structured (record) arrays are not supported: save one field as its own array");
        var descr = HeaderValue(DescrPattern(), header, "descr");
        var order = descr.Length > 0 && "<>|=".Contains(descr[0]) ? descr[0] : '=';
        var code = descr.TrimStart('<', '>', '|', '=');
        (DType, int)? known = code switch
        {
            "f8" => (DType.Float64, 8),
            "f4" => (DType.Float32, 4),
            "i4" => (DType.Int32, 4),
            "b1" => (DType.Bool, 1),
            _ => null,
        };
        if (known is { } k) return (k.Item1, k.Item2, order == '>' || (order == '=' && !BitConverter.IsLittleEndian));
        var hint = code switch
        {
            "O" => "an object array holds pickled Python objects, which funcdiff does not read (they can run code)",
            ['i' or 'u', ..] => "convert it with array.astype(numpy.int32)",
            ['b', ..] or ['?', ..] => "convert it with array.astype(bool)",
            _ => "convert it with array.astype(numpy.float64)",
        };
        throw new InvalidDataException($"dtype '{descr}' is not supported; .npy input is float64 ('<f8'), float32 ('<f4'), int32 ('<i4') or bool ('|b1'): {hint}");
    }

    private static int[] NpyShape(string header)
    {
        var text = HeaderValue(ShapePattern(), header, "shape");
        var dims = new List<long>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!long.TryParse(part.TrimEnd('L'), NumberStyles.None, CultureInfo.InvariantCulture, out var d))
                throw new InvalidDataException($"the header's shape ({text}) is not a tuple of non-negative integers");
            dims.Add(d);
        }
        var size = 1.0;
        foreach (var d in dims) size *= d;
        if (dims.Any(d => d > int.MaxValue) || size > Array.MaxLength)
            throw new InvalidDataException($"shape ({text}) has more elements than a tensor can hold");
        return [.. dims.Select(d => (int)d)];
    }

    private static string HeaderValue(Regex pattern, string header, string key)
    {
        var match = pattern.Match(header);
        if (!match.Success) throw new InvalidDataException($"the .npy header has no '{key}': {header.Trim()}");
        return match.Groups[1].Value;
    }

    [GeneratedRegex("""['"]descr['"]\s*:\s*['"]([^'"]*)['"]""")]
    private static partial Regex DescrPattern();

    [GeneratedRegex("""['"]descr['"]\s*:\s*\[""")]
    private static partial Regex StructuredPattern();

    [GeneratedRegex("""['"]fortran_order['"]\s*:\s*(True|False)""")]
    private static partial Regex FortranPattern();

    [GeneratedRegex("""['"]shape['"]\s*:\s*\(([^)]*)\)""")]
    private static partial Regex ShapePattern();
}
