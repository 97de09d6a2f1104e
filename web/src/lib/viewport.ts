import { onBeforeUnmount, ref } from 'vue'

// PHONE_QUERY matches phones (volunteers' WeChat browsers) and narrow windows.
export const PHONE_QUERY = '(max-width: 768px)'

export function useIsPhone() {
  const mq = window.matchMedia(PHONE_QUERY)
  const isPhone = ref(mq.matches)
  const update = (e: MediaQueryListEvent) => (isPhone.value = e.matches)
  mq.addEventListener('change', update)
  onBeforeUnmount(() => mq.removeEventListener('change', update))
  return isPhone
}
