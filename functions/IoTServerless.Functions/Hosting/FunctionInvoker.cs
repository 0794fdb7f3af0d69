using System.Globalization;
using System.Reflection;
using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace IoTServerless.Functions.Hosting;

/// <summary>
/// Calls a <c>[Function]</c> method the way the worker does: a new instance per invocation from DI,
/// trigger and route values bound by parameter, the result awaited. Built once per function.
/// </summary>
internal sealed class FunctionInvoker
{
    readonly FunctionDescriptor _function;
    readonly ObjectFactory? _factory;
    readonly Func<InvocationContext, object?>[] _binders;

    public FunctionInvoker(FunctionDescriptor function)
    {
        _function = function;
        var method = function.Method;
        if (method.ReturnType != typeof(void) && method.ReturnType != typeof(Task) && !typeof(IActionResult).IsAssignableFrom(method.ReturnType)
            && !(method.ReturnType.IsGenericType && method.ReturnType.GetGenericTypeDefinition() == typeof(Task<>)))
        {
            throw new NotSupportedException($"Function {function.Name}: standalone mode does not support the return type {method.ReturnType}.");
        }
        _factory = method.IsStatic ? null : ActivatorUtilities.CreateFactory(method.DeclaringType!, Type.EmptyTypes);
        _binders = [.. method.GetParameters().Select(CreateBinder)];
    }

    public string Name => _function.Name;

    Func<InvocationContext, object?> CreateBinder(ParameterInfo parameter)
    {
        var type = parameter.ParameterType;
        if (parameter.GetCustomAttribute<HttpTriggerAttribute>() is not null && type == typeof(HttpRequest))
        {
            return c => c.Http!.Request;
        }
        if (parameter.GetCustomAttribute<TimerTriggerAttribute>() is not null && type == typeof(TimerInfo))
        {
            return c => c.Timer;
        }
        if (type == typeof(CancellationToken))
        {
            return c => c.CancellationToken;
        }
        if (_function.Http is not null && (type == typeof(string) || type.IsPrimitive || Nullable.GetUnderlyingType(type) is not null || type == typeof(Guid)))
        {
            var name = parameter.Name!;
            var target = Nullable.GetUnderlyingType(type) ?? type;
            return c =>
            {
                var value = c.Http!.GetRouteValue(name)?.ToString();
                if (value is null)
                {
                    return type.IsValueType && Nullable.GetUnderlyingType(type) is null ? Activator.CreateInstance(type) : null;
                }
                return target == typeof(string) ? value
                    : target == typeof(Guid) ? Guid.Parse(value, CultureInfo.InvariantCulture)
                    : Convert.ChangeType(value, target, CultureInfo.InvariantCulture);
            };
        }
        throw new NotSupportedException($"Function {_function.Name}: standalone mode cannot bind parameter '{parameter.Name}' of type {type}.");
    }

    public async Task<object?> InvokeAsync(IServiceProvider services, InvocationContext context)
    {
        var instance = _factory?.Invoke(services, null);
        try
        {
            var args = new object?[_binders.Length];
            for (var i = 0; i < args.Length; i++)
            {
                args[i] = _binders[i](context);
            }
            object? result;
            try
            {
                result = _function.Method.Invoke(instance, args);
            }
            catch (TargetInvocationException ex) when (ex.InnerException is not null)
            {
                ExceptionDispatchInfo.Throw(ex.InnerException);
                throw;
            }
            if (result is Task task)
            {
                await task;
                return _function.Method.ReturnType.IsGenericType ? task.GetType().GetProperty(nameof(Task<object>.Result))!.GetValue(task) : null;
            }
            return result;
        }
        finally
        {
            switch (instance)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync();
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }
    }
}

/// <summary>What one invocation binds from: the HTTP request or the timer tick.</summary>
internal sealed record InvocationContext(HttpContext? Http, TimerInfo? Timer, CancellationToken CancellationToken);
