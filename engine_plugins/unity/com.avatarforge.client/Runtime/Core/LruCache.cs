// A size-bounded map that forgets the least recently used entry first. Evicted values go to
// onEvict, because a cached Texture2D is native memory that only Object.Destroy frees: dropping the
// reference is not enough. Thread-safe; onEvict runs on the thread that caused the eviction
// (the main thread when, as in the Unity components, only the main thread adds).
using System;
using System.Collections.Generic;

namespace AvatarForge.Client
{
    public sealed class LruCache<TKey, TValue>
    {
        readonly int capacity;
        readonly Action<TValue> onEvict;
        readonly Dictionary<TKey, LinkedListNode<KeyValuePair<TKey, TValue>>> index = new Dictionary<TKey, LinkedListNode<KeyValuePair<TKey, TValue>>>();
        readonly LinkedList<KeyValuePair<TKey, TValue>> order = new LinkedList<KeyValuePair<TKey, TValue>>();  // most recent first
        readonly object gate = new object();

        public LruCache(int capacity, Action<TValue> onEvict = null)
        {
            if (capacity < 1) throw new ArgumentOutOfRangeException("capacity", "at least 1");
            this.capacity = capacity;
            this.onEvict = onEvict;
        }

        public int Capacity { get { return capacity; } }
        public int Count { get { lock (gate) return index.Count; } }

        /// <summary>The value, marked as just used; false when absent.</summary>
        public bool TryGet(TKey key, out TValue value)
        {
            lock (gate)
            {
                LinkedListNode<KeyValuePair<TKey, TValue>> node;
                if (!index.TryGetValue(key, out node)) { value = default(TValue); return false; }
                order.Remove(node);
                order.AddFirst(node);
                value = node.Value.Value;
                return true;
            }
        }

        /// <summary>Adds or replaces; a replaced value and any value pushed out are evicted.</summary>
        public void Set(TKey key, TValue value)
        {
            var evicted = new List<TValue>();
            lock (gate)
            {
                LinkedListNode<KeyValuePair<TKey, TValue>> node;
                if (index.TryGetValue(key, out node))
                {
                    order.Remove(node);
                    if (!ReferenceEquals(node.Value.Value, value)) evicted.Add(node.Value.Value);
                }
                index[key] = order.AddFirst(new KeyValuePair<TKey, TValue>(key, value));
                while (index.Count > capacity)
                {
                    var last = order.Last;
                    order.RemoveLast();
                    index.Remove(last.Value.Key);
                    evicted.Add(last.Value.Value);
                }
            }
            Evict(evicted);
        }

        /// <summary>Evicts everything (e.g. from OnDestroy).</summary>
        public void Clear()
        {
            List<TValue> evicted;
            lock (gate)
            {
                evicted = new List<TValue>(index.Count);
                foreach (var entry in order) evicted.Add(entry.Value);
                order.Clear();
                index.Clear();
            }
            Evict(evicted);
        }

        void Evict(List<TValue> values)
        {
            if (onEvict == null) return;
            foreach (var v in values) onEvict(v);
        }
    }
}
